package pionlog

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"

	"github.com/pion/logging"
)

func TestLevels(t *testing.T) {
	tests := []struct {
		name     string
		problems slog.Level
		log      func(l logging.LeveledLogger)
		min      slog.Level
		want     string
	}{
		{"info only at debug", slog.LevelWarn, func(l logging.LeveledLogger) {
			l.Infof("peer %s", "10.0.0.1:5000")
		}, slog.LevelInfo, ""},
		{"info shown at debug", slog.LevelWarn, func(l logging.LeveledLogger) {
			l.Infof("peer %s", "10.0.0.1:5000")
		}, slog.LevelDebug, "level=DEBUG msg=\"peer 10.0.0.1:5000\" pion=ice"},
		{"errors as warnings", slog.LevelWarn, func(l logging.LeveledLogger) {
			l.Errorf("bad %d", 1)
		}, slog.LevelInfo, "level=WARN msg=\"bad 1\" pion=ice"},
		{"errors kept at debug", slog.LevelDebug, func(l logging.LeveledLogger) {
			l.Errorf("bad %d", 1)
		}, slog.LevelInfo, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			log := slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: tt.min,
				ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
					if a.Key == slog.TimeKey {
						return slog.Attr{}
					}
					return a
				}}))
			tt.log(Factory{Log: log, Problems: tt.problems}.NewLogger("ice"))
			if got := strings.TrimSpace(buf.String()); got != tt.want {
				t.Fatalf("logged %q, want %q", got, tt.want)
			}
		})
	}
}
