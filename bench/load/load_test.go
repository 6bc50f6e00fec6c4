package load

import (
	"context"
	"encoding/json"
	"errors"
	"github.com/monkeythorn/meet/internal/leaktest"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/monkeythorn/meet/auth"
	"github.com/monkeythorn/meet/bench"
	"github.com/monkeythorn/meet/sfu"
	"github.com/monkeythorn/meet/signaling"
)

// testServer is the server's HTTP surface the bench uses, wired in-process
// from the real sfu, signaling and auth packages: /api/rooms, /api/token
// and /ws.
func testServer(t *testing.T) string {
	t.Helper()
	log := slog.New(slog.DiscardHandler)
	s, err := sfu.New(sfu.Config{Logger: log, ListenIP: "127.0.0.1", IncludeLoopback: true})
	if err != nil {
		t.Fatal(err)
	}
	iss, err := auth.NewIssuer(auth.IssuerConfig{Secret: auth.Secret(strings.Repeat("k", 32))})
	if err != nil {
		t.Fatal(err)
	}
	h, err := signaling.NewHandler(signaling.Config{Logger: log, Conference: signaling.SFUConference(s), Verifier: iss})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /api/rooms", func(w http.ResponseWriter, r *http.Request) {
		code, err := auth.NewRoomCode()
		if err != nil {
			http.Error(w, err.Error(), 500)
			return
		}
		json.NewEncoder(w).Encode(map[string]string{"code": code.String()})
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
		tok, _, err := iss.Issue(auth.TokenRequest{Room: code, Grants: auth.Grants{Publish: true, Subscribe: true}, E2EE: req.E2EE})
		if err != nil {
			http.Error(w, err.Error(), 500)
			return
		}
		json.NewEncoder(w).Encode(map[string]any{"token": tok, "ws": "/ws"})
	})
	mux.Handle("GET /ws", h)
	srv := httptest.NewServer(mux)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		h.Close(ctx)
		srv.Close()
		s.Close()
	})
	return srv.URL
}

// TestLoadSmoke runs a short load through real signaling, ICE, DTLS-SRTP
// and the SFU: every subscriber must receive every publisher's video in
// order, frames must be timed, and the ceiling hook must get the rate the
// subscribers saw.
func TestLoadSmoke(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end smoke test; runs without -short")
	}
	tests := []struct {
		name      string
		simulcast bool
		e2ee      bool
		gro       bool
		direct    bool
	}{
		{"plain", false, false, false, false},
		{"simulcast e2ee", true, true, false, false},
		{"receive gro", false, false, true, false},
		{"direct receive e2ee", false, true, true, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			leaktest.Check(t)
			url := testServer(t)
			ctx, cancel := context.WithTimeout(context.Background(), 45*time.Second)
			defer cancel()
			var askedRate int64
			res, err := Run(ctx, Config{
				URL: url, Rooms: 1, Publishers: 1, Subscribers: 2, VideoBps: 500_000,
				Simulcast: tt.simulcast, E2EE: tt.e2ee, ReceiveGRO: tt.gro, DirectReceive: tt.direct,
				Duration: 2 * time.Second, Warmup: time.Second, ServerPID: os.Getpid(),
				Ceiling: func(_ context.Context, rate int64, d time.Duration) (*bench.CeilingResult, error) {
					askedRate = rate
					return &bench.CeilingResult{CeilingPacketsPerCoreS: 100000}, nil
				},
			})
			if err != nil {
				t.Fatal(err)
			}
			var js strings.Builder
			res.WriteJSON(&js)
			t.Log(js.String())
			if res.SubscriberTracks != 2 || res.SubscriberTracksWant != 2 {
				t.Errorf("subscriber tracks %d of %d, want 2 of 2", res.SubscriberTracks, res.SubscriberTracksWant)
			}
			// 500 kbit/s at ~1.1 kB packets is ~57 packets/s per
			// subscriber; two subscribers: well over 50/s in total.
			if res.ForwardedPacketsPerS < 50 || res.PacketsReceived < 100 {
				t.Errorf("forwarded %.0f packets/s, %d in the window", float64(res.ForwardedPacketsPerS), res.PacketsReceived)
			}
			if !res.LossRatio.Known() || res.LossRatio > 0.05 {
				t.Errorf("loss ratio %v", res.LossRatio)
			}
			// 30 fps × 2 subscribers × 2 s, minus frames cut by the window edges.
			if res.LatencyFrames < 60 || !res.LatencyP99Ms.Known() || res.LatencyP50Ms <= 0 || res.LatencyP99Ms < res.LatencyP50Ms {
				t.Errorf("latency: %d frames, p50 %v p99 %v", res.LatencyFrames, res.LatencyP50Ms, res.LatencyP99Ms)
			}
			if !res.ServerCPUCores.Known() || res.ServerCPUSource != "proc" || !res.ServerRSSBytes.Known() {
				t.Errorf("server CPU %v from %q, RSS %v", res.ServerCPUCores, res.ServerCPUSource, res.ServerRSSBytes)
			}
			if askedRate != int64(float64(res.ForwardedPacketsPerS)+0.5) {
				t.Errorf("ceiling asked for %d packets/s, forwarded %.1f", askedRate, float64(res.ForwardedPacketsPerS))
			}
			if !res.CeilingRatio.Known() {
				t.Error("ceiling ratio unknown")
			}
			for _, n := range res.Notes {
				if strings.Contains(n, "E2EE") || strings.Contains(n, "SRTP") {
					t.Errorf("note: %s", n)
				}
			}
			cancel()
		})
	}
}

func TestConfigValidate(t *testing.T) {
	ok := Config{URL: "http://127.0.0.1:1", Rooms: 1, Publishers: 1, Subscribers: 1, VideoBps: 1e6}
	tests := []struct {
		name string
		mod  func(*Config)
	}{
		{"no url", func(c *Config) { c.URL = "" }},
		{"no rooms", func(c *Config) { c.Rooms = 0 }},
		{"no publishers", func(c *Config) { c.Publishers = 0 }},
		{"too many", func(c *Config) { c.Subscribers = MaxClients }},
		{"low bit rate", func(c *Config) { c.VideoBps = 5 }},
		{"long", func(c *Config) { c.Duration = time.Hour }},
		{"nack without Pion's receive chain", func(c *Config) { c.NACK, c.DirectReceive = true, true }},
	}
	for _, tt := range tests {
		c := ok
		tt.mod(&c)
		if _, err := Run(context.Background(), c); !errors.Is(err, ErrConfig) {
			t.Errorf("%s: err = %v, want ErrConfig", tt.name, err)
		}
	}
	c := ok
	c.URL = "ftp://x"
	if _, err := Run(context.Background(), c); !errors.Is(err, ErrConfig) {
		t.Errorf("bad scheme: err = %v", err)
	}
}

// TestLocalIPFor: clients gather on the address the machine reaches the
// server from, loopback for a server on loopback (--two-hosts relies on
// the same for the pair's address).
func TestLocalIPFor(t *testing.T) {
	for _, host := range []string{"127.0.0.1", "localhost", "127.0.0.5"} {
		ip, err := localIPFor(host)
		if err != nil || !ip.IsLoopback() {
			t.Errorf("%s: %v, %v; want a loopback address", host, ip, err)
		}
	}
	if _, err := newAPIClient("http://no-such-host.invalid:8080"); !errors.Is(err, ErrConfig) {
		t.Errorf("unresolvable host: %v, want ErrConfig", err)
	}
}
