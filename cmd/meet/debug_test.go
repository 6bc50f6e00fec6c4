package main

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/monkeythorn/meet/server"
	"github.com/monkeythorn/meet/sfu"
)

// TestDebugPprof: off by default; when on, the forced-GC heap profile
// answers loopback and refuses anyone else.
func TestDebugPprof(t *testing.T) {
	srv, err := server.New(server.Config{Logger: slog.New(slog.DiscardHandler), Secret: []byte(secret32), SFU: sfu.Config{ListenIP: "127.0.0.1"}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Shutdown(context.Background()) })
	tests := []struct {
		name   string
		on     bool
		remote string
		want   int
	}{
		{"off", false, "127.0.0.1:5000", http.StatusNotFound},
		{"loopback", true, "127.0.0.1:5000", http.StatusOK},
		{"ipv6 loopback", true, "[::1]:5000", http.StatusOK},
		{"other host", true, "192.0.2.7:5000", http.StatusForbidden},
	}
	for _, tt := range tests {
		req := httptest.NewRequest(http.MethodGet, "/debug/pprof/heap?gc=1&debug=1", nil)
		req.RemoteAddr = tt.remote
		w := httptest.NewRecorder()
		metricsHandler(srv, tt.on).ServeHTTP(w, req)
		if w.Code != tt.want {
			t.Errorf("%s: status %d, want %d", tt.name, w.Code, tt.want)
		}
		if w.Code == http.StatusOK && !strings.Contains(w.Body.String(), "# HeapInuse = ") {
			t.Errorf("%s: heap profile without HeapInuse", tt.name)
		}
	}
}
