package server

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/monkeythorn/meet/auth"
)

// The abuse suite (abuse_*_test.go, docs/security.md): each test runs one
// attack from its own loopback address (127.0.0.2 and up, so the attacker's
// per-address limits are not the legitimate client's) while a legitimate
// pair joins a call from 127.0.0.1, and checks that the pair gets media
// within legitBound and that the attacker gets the documented refusal.
// Every attack is bounded in count and time.

// legitBound is how long a legitimate join may take under attack: from
// the first API call until both sides received each other's media. A quiet
// run takes well under a second; the bound leaves room for a busy machine.
const legitBound = 15 * time.Second

// livePair makes a room, joins two Pion clients and waits until each has
// media from the other, failing the test beyond legitBound. It returns the
// room, the pair and the time it took.
func livePair(t *testing.T, ts *testServer) (string, []*pionClient, time.Duration) {
	t.Helper()
	start := time.Now()
	room := ts.newRoom()
	a := joinPion(t, ts, room, 1)
	t.Cleanup(a.leave)
	b := joinPion(t, ts, room, 2)
	t.Cleanup(b.leave)
	pair := []*pionClient{a, b}
	waitMedia(t, pair, pair, 10, legitBound)
	took := time.Since(start)
	if took > legitBound {
		t.Fatalf("legitimate call took %v under attack, bound %v", took, legitBound)
	}
	return room, pair, took
}

// legitCall is a livePair that leaves again; it returns how long the call
// took to carry media both ways.
func legitCall(t *testing.T, ts *testServer) time.Duration {
	t.Helper()
	_, pair, took := livePair(t, ts)
	for _, c := range pair {
		c.leave()
	}
	return took
}

// attackerClient is an HTTP client whose connections come from src.
func attackerClient(src string) *http.Client {
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(src)}, Timeout: 2 * time.Second}
	return &http.Client{Transport: &http.Transport{DialContext: d.DialContext, MaxIdleConnsPerHost: 16}, Timeout: 5 * time.Second}
}

// attackerDialer opens WebSockets from src.
func attackerDialer(src string) *websocket.Dialer {
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(src)}, Timeout: 2 * time.Second}
	return &websocket.Dialer{NetDialContext: d.DialContext, HandshakeTimeout: 3 * time.Second}
}

// floodResult counts a flood's answers.
type floodResult struct {
	sent, ok, refused atomic.Int64
	other             atomic.Int64
	mu                sync.Mutex
	refusal           string // one 429 body, with its Retry-After
	elapsed           time.Duration
}

func (r *floodResult) String() string {
	return fmt.Sprintf("%d requests in %v (%.0f/s): %d ok, %d refused (429), %d other", r.sent.Load(), r.elapsed.Round(time.Millisecond),
		float64(r.sent.Load())/r.elapsed.Seconds(), r.ok.Load(), r.refused.Load(), r.other.Load())
}

// flood sends up to max requests made by mk from 8 workers for at most d.
func flood(ctx context.Context, c *http.Client, max int64, d time.Duration, mk func() *http.Request) *floodResult {
	res := &floodResult{}
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	start := time.Now()
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil && res.sent.Add(1) <= max {
				resp, err := c.Do(mk().WithContext(ctx))
				if err != nil {
					res.other.Add(1)
					continue
				}
				b, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
				resp.Body.Close()
				switch resp.StatusCode {
				case http.StatusOK:
					res.ok.Add(1)
				case http.StatusTooManyRequests:
					res.refused.Add(1)
					res.mu.Lock()
					if res.refusal == "" {
						res.refusal = "Retry-After: " + resp.Header.Get("Retry-After") + " " + strings.TrimSpace(string(b))
					}
					res.mu.Unlock()
				default:
					res.other.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	res.elapsed = time.Since(start)
	if n := res.sent.Load(); n > max {
		res.sent.Store(max)
	}
	return res
}

// duringAttack runs attack in the background while the legitimate call is
// made, and returns the call's duration once both are done.
func duringAttack(t *testing.T, ts *testServer, attack func(ctx context.Context)) time.Duration {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); attack(ctx) }()
	time.Sleep(100 * time.Millisecond) // the attack is under way first
	took := legitCall(t, ts)
	cancel()
	<-done
	return took
}

// checkRefusal requires a 429 body with a Retry-After of at least a second
// and the documented error code.
func checkRefusal(t *testing.T, r *floodResult) {
	t.Helper()
	var body errorBody
	_, js, _ := strings.Cut(r.refusal, " {")
	if r.refused.Load() == 0 || !strings.HasPrefix(r.refusal, "Retry-After: ") || strings.HasPrefix(r.refusal, "Retry-After:  ") ||
		json.Unmarshal([]byte("{"+js), &body) != nil || body.Code != codeTooMany {
		t.Errorf("attacker was not refused with 429, Retry-After and code %q: %s; first refusal %q", codeTooMany, r, r.refusal)
	}
}

// randomRoom is a fresh valid room code, as an attacker guessing codes
// would send.
func randomRoom(t *testing.T) string {
	c, err := auth.NewRoomCode()
	if err != nil {
		t.Fatal(err)
	}
	return c.String()
}

// refusals reads meet_limit_refusals_total{limit=...} from the node's
// registry, as /metrics would show it.
func refusals(t *testing.T, ts *testServer, limit string) float64 {
	t.Helper()
	mfs, err := ts.s.Metrics().Gatherer().Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != "meet_limit_refusals_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "limit" && l.GetValue() == limit {
					return m.GetCounter().GetValue()
				}
			}
		}
	}
	t.Fatalf("no meet_limit_refusals_total{limit=%q} in /metrics", limit)
	return 0
}
