// Package pionlog feeds Pion's leveled logs into a slog.Logger.
//
// Pion logs client addresses and usernames at Info and below, which we log
// only at debug level, so Trace, Debug and Info all go to debug (Trace a
// step below). Where Pion's warnings and errors go is the caller's choice:
// the SFU sends them to debug too (a misbehaving client can trigger them at
// will), the TURN server to warnings.
package pionlog

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/pion/logging"
)

// Factory is a logging.LoggerFactory writing to Log; Pion's warnings and
// errors are logged at Problems.
type Factory struct {
	Log      *slog.Logger
	Problems slog.Level
}

// NewLogger implements logging.LoggerFactory.
func (f Factory) NewLogger(scope string) logging.LeveledLogger {
	return logger{log: f.Log.With("pion", scope), problems: f.Problems}
}

type logger struct {
	log      *slog.Logger
	problems slog.Level
}

func (l logger) emit(level slog.Level, msg string) {
	l.log.Log(context.Background(), level, msg)
}

func (l logger) emitf(level slog.Level, format string, args []any) {
	if !l.log.Enabled(context.Background(), level) {
		return // skip formatting on busy paths
	}
	l.log.Log(context.Background(), level, fmt.Sprintf(format, args...))
}

func (l logger) Trace(msg string)                  { l.emit(slog.LevelDebug-4, msg) }
func (l logger) Tracef(format string, args ...any) { l.emitf(slog.LevelDebug-4, format, args) }
func (l logger) Debug(msg string)                  { l.emit(slog.LevelDebug, msg) }
func (l logger) Debugf(format string, args ...any) { l.emitf(slog.LevelDebug, format, args) }
func (l logger) Info(msg string)                   { l.emit(slog.LevelDebug, msg) }
func (l logger) Infof(format string, args ...any)  { l.emitf(slog.LevelDebug, format, args) }
func (l logger) Warn(msg string)                   { l.emit(l.problems, msg) }
func (l logger) Warnf(format string, args ...any)  { l.emitf(l.problems, format, args) }
func (l logger) Error(msg string)                  { l.emit(l.problems, msg) }
func (l logger) Errorf(format string, args ...any) { l.emitf(l.problems, format, args) }
