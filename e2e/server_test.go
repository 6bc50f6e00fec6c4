package e2e

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"testing"
	"time"

	"github.com/monkeythorn/meet/auth"
	e2eeclient "github.com/monkeythorn/meet/e2ee-client"
	"github.com/monkeythorn/meet/sfu"
	"github.com/monkeythorn/meet/signaling"
	"github.com/monkeythorn/meet/web"
)

// testServer is a whole meeting server on 127.0.0.1 for browser tests.
type testServer struct {
	URL      string
	rec      *recorder
	shutdown func(ctx context.Context) error
}

// conference adapts the SFU to signaling's Conference interface.
type conference struct{ s *sfu.SFU }

func (c conference) Join(room string, req signaling.JoinRequest) (signaling.Participant, error) {
	return c.s.Join(room, sfu.JoinOptions{ID: req.ID, E2EE: req.E2EE, Meta: req.Meta, Listener: req.Listener})
}

// startServer wires SFU, signaling, the room API and the web client the way
// the binary does, on an ephemeral TCP and UDP port of 127.0.0.1.
func startServer(t *testing.T) *testServer {
	t.Helper()
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	media, err := sfu.New(sfu.Config{Logger: log, ListenIP: "127.0.0.1", IncludeLoopback: true})
	if err != nil {
		t.Fatal(err)
	}
	issuer, err := auth.NewIssuer(auth.IssuerConfig{Secret: []byte("e2e-test-secret-e2e-test-secret-e2e-test-secret")})
	if err != nil {
		t.Fatal(err)
	}
	sig, err := signaling.NewHandler(signaling.Config{Logger: log, Conference: conference{media}, Verifier: issuer})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("/", web.Handler())
	mux.Handle(e2eeclient.Prefix, e2eeclient.Handler())
	mux.Handle("/ws", sig)
	mux.HandleFunc("POST /api/rooms", func(w http.ResponseWriter, _ *http.Request) {
		code, err := auth.NewRoomCode()
		if err != nil {
			http.Error(w, err.Error(), 500)
			return
		}
		_ = json.NewEncoder(w).Encode(map[string]string{"code": string(code)})
	})
	mux.HandleFunc("POST /api/token", func(w http.ResponseWriter, r *http.Request) {
		var req struct {
			Room string `json:"room"`
			E2EE bool   `json:"e2ee"`
		}
		if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
			http.Error(w, err.Error(), 400)
			return
		}
		code, err := auth.ParseRoomCode(req.Room)
		if err != nil {
			http.Error(w, err.Error(), 400)
			return
		}
		tok, _, err := issuer.Issue(auth.TokenRequest{Room: code, E2EE: req.E2EE, Grants: auth.Grants{Publish: true, Subscribe: true}})
		if err != nil {
			http.Error(w, err.Error(), 500)
			return
		}
		_ = json.NewEncoder(w).Encode(map[string]any{"token": tok, "ws": "/ws", "iceServers": []any{}})
	})
	rec := &recorder{}
	srv := httptest.NewServer(rec.wrap(mux))
	ts := &testServer{URL: srv.URL, rec: rec}
	ts.shutdown = func(ctx context.Context) error {
		err := sig.Close(ctx)
		srv.Close()
		if cerr := media.Close(); err == nil {
			err = cerr
		}
		return err
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = ts.shutdown(ctx)
	})
	return ts
}
