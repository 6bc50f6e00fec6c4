package turnserver

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/pion/logging"
)

// slogFactory feeds pion's logs into our slog.Logger. pion logs client and
// peer addresses and usernames (which carry participant ids) at Info and
// below, and an unauthenticated client can trigger most lines at will (even
// pion's Errorf, e.g. a failed TLS handshake), so everything below Warn goes
// to Debug and pion's errors are our warnings: none of them is our failure.
type slogFactory struct{ log *slog.Logger }

func (f slogFactory) NewLogger(scope string) logging.LeveledLogger {
	return pionLogger{log: f.log.With("pion", scope)}
}

type pionLogger struct{ log *slog.Logger }

func (l pionLogger) emit(level slog.Level, msg string) {
	l.log.Log(context.Background(), level, msg)
}

func (l pionLogger) emitf(level slog.Level, format string, args []any) {
	if !l.log.Enabled(context.Background(), level) {
		return // skip formatting on the hot path
	}
	l.log.Log(context.Background(), level, fmt.Sprintf(format, args...))
}

func (l pionLogger) Trace(msg string)                  { l.emit(slog.LevelDebug-4, msg) }
func (l pionLogger) Tracef(format string, args ...any) { l.emitf(slog.LevelDebug-4, format, args) }
func (l pionLogger) Debug(msg string)                  { l.emit(slog.LevelDebug, msg) }
func (l pionLogger) Debugf(format string, args ...any) { l.emitf(slog.LevelDebug, format, args) }
func (l pionLogger) Info(msg string)                   { l.emit(slog.LevelDebug, msg) }
func (l pionLogger) Infof(format string, args ...any)  { l.emitf(slog.LevelDebug, format, args) }
func (l pionLogger) Warn(msg string)                   { l.emit(slog.LevelWarn, msg) }
func (l pionLogger) Warnf(format string, args ...any)  { l.emitf(slog.LevelWarn, format, args) }
func (l pionLogger) Error(msg string)                  { l.emit(slog.LevelWarn, msg) }
func (l pionLogger) Errorf(format string, args ...any) { l.emitf(slog.LevelWarn, format, args) }
