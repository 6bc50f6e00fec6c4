package e2e

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"testing"
	"time"

	"github.com/monkeythorn/meet/metrics"
	"github.com/monkeythorn/meet/server"
	"github.com/monkeythorn/meet/sfu"
)

// testServer is a whole meeting server on 127.0.0.1 for browser tests.
type testServer struct {
	URL      string
	rec      *recorder
	handler  http.Handler // the server's own handler, for extra front doors
	metrics  *metrics.Metrics
	shutdown func(ctx context.Context) error
}

// counter reads a counter of the server's /metrics by name and label.
func (s *testServer) counter(t *testing.T, name, label, value string) float64 {
	t.Helper()
	mfs, err := s.metrics.Gatherer().Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == label && l.GetValue() == value {
					return m.GetCounter().GetValue()
				}
			}
		}
	}
	t.Fatalf("no %s{%s=%q} in /metrics", name, label, value)
	return 0
}

// startServer runs server.New as the binary does (real SFU, media on an
// ephemeral UDP port of 127.0.0.1, loopback candidates), behind a recorder
// that keeps every HTTP request so tests can prove the room key never
// reached the server.
func startServer(t *testing.T) *testServer {
	t.Helper()
	return startServerWith(t, nil)
}

// startServerWith is startServer with changes to the server's config.
func startServerWith(t *testing.T, change func(*server.Config)) *testServer {
	t.Helper()
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	cfg := server.Config{
		Logger: log,
		Secret: []byte("e2e-test-secret-e2e-test-secret-e2e-test-secret"),
		SFU:    sfu.Config{ListenIP: "127.0.0.1", IncludeLoopback: true},
	}
	if change != nil {
		change(&cfg)
	}
	s, err := server.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	rec := &recorder{}
	hs := httptest.NewUnstartedServer(rec.wrap(s.Handler()))
	hs.Start()
	ts := &testServer{URL: hs.URL, rec: rec, handler: s.Handler(), metrics: s.Metrics()}
	done := false
	ts.shutdown = func(ctx context.Context) error {
		if done {
			return nil
		}
		done = true
		err := s.Shutdown(ctx)
		hs.CloseClientConnections()
		hs.Close()
		return err
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = ts.shutdown(ctx)
	})
	return ts
}
