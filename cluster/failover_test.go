package cluster

import (
	"context"
	"github.com/monkeythorn/meet/internal/leaktest"
	"github.com/monkeythorn/meet/internal/poll"
	"net"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"
)

// TestMissingHeartbeatMovesRoom: a crashed host's room moves once its
// heartbeat is Missing (two heartbeats late), well before its records
// expire.
func TestMissingHeartbeatMovesRoom(t *testing.T) {
	leaktest.Check(t)
	srv := startRedis(t)
	rdb := srv.client()
	a, b := newTestNode(t, srv, "a", nil), newTestNode(t, srv, "b", nil)
	a.setLoad(5, 0)
	if p := place(t, b, "room"); !p.Local {
		t.Fatalf("Place on b = %+v; want local", p)
	}
	b.RoomOpened("room")
	b.crash()
	crashed := time.Now()
	took := poll.Until(t, testTTL, "a to take the room", func() bool { return place(t, a, "room").Local })
	t.Logf("room moved %v after the crash (Missing %v, TTL %v)", took, 2*testRefresh, testTTL)
	if time.Since(crashed) >= testTTL {
		t.Errorf("the room moved only after the record TTL")
	}
	if got := owner(t, rdb, "room"); got != "a" {
		t.Errorf("record names %q; want a", got)
	}
}

// TestPlaceLost: a participant's report that the host is lost moves the
// room at once when the probe finds the host gone, and never when the probe
// finds it alive, however often the report comes.
func TestPlaceLost(t *testing.T) {
	tests := []struct {
		name     string
		gone     bool
		wantHost string
	}{
		{"host gone", true, "a"},
		{"host alive", false, "b"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			leaktest.Check(t)
			srv := startRedis(t)
			rdb := srv.client()
			var probes atomic.Int32
			probe := func(context.Context, string) bool { probes.Add(1); return tt.gone }
			a := newTestNode(t, srv, "a", func(c *Config) { c.Probe = probe })
			b := newTestNode(t, srv, "b", nil)
			a.setLoad(5, 0)
			if p := place(t, b, "room"); !p.Local {
				t.Fatalf("Place on b = %+v; want local", p)
			}
			b.RoomOpened("room")
			for range 5 {
				ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
				p, err := a.PlaceLost(ctx, "room")
				cancel()
				if err != nil {
					t.Fatal(err)
				}
				if p.NodeID != tt.wantHost {
					t.Fatalf("PlaceLost = %+v; want host %s", p, tt.wantHost)
				}
			}
			if n := probes.Load(); n != 1 {
				t.Errorf("%d probes for 5 reports within %v; want 1", n, probeEvery)
			}
			if got := owner(t, rdb, "room"); got != tt.wantHost {
				t.Errorf("record names %q; want %s", got, tt.wantHost)
			}
			if tt.gone {
				if n, _ := rdb.Exists(context.Background(), nodeKey("b")).Result(); n != 0 {
					t.Error("the gone node's record is still there")
				}
				// b was alive after all: its next heartbeat finds the room
				// taken and hands it over.
				b.beatNow()
				if lost := b.lostRooms(); len(lost) != 1 || lost[0] != "room" {
					t.Errorf("b lost %v; want [room]", lost)
				}
			}
		})
	}
}

func TestHTTPProbe(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := "http://" + ln.Addr().String()
	ln.Close()
	status := func(code int) string {
		s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(code) }))
		t.Cleanup(s.Close)
		return s.URL
	}
	tests := []struct {
		name string
		url  string
		gone bool
	}{
		{"nothing listens", closed, true},
		{"healthy", status(http.StatusOK), false},
		{"draining", status(http.StatusServiceUnavailable), false},
		{"proxy: backend down", status(http.StatusBadGateway), true},
		{"proxy: backend timed out", status(http.StatusGatewayTimeout), true},
	}
	for _, tt := range tests {
		if got := HTTPProbe(context.Background(), tt.url); got != tt.gone {
			t.Errorf("%s: gone=%v, want %v", tt.name, got, tt.gone)
		}
	}
}
