package server

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"github.com/monkeythorn/meet/internal/leaktest"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/monkeythorn/meet/admission"
	"github.com/monkeythorn/meet/signaling"
)

// allowedBy is the most a rate limit lets through in d: the burst, the
// refill, and one for rounding.
func allowedBy(r admission.Rate, d time.Duration) int64 {
	return int64(r.Burst) + int64(r.PerSecond*d.Seconds()) + 1
}

// floodAPI sends up to 3,000 requests made by mk from 127.0.0.2 during a
// legitimate call, and checks that the default rate r let through no more
// than it allows and that /metrics counted the rest under limit.
func floodAPI(t *testing.T, r admission.Rate, limit string, mk func(base string) *http.Request) {
	t.Helper()
	ts := newTestServer(t, nil)
	atk := attackerClient("127.0.0.2")
	defer atk.CloseIdleConnections()
	var res *floodResult
	took := duringAttack(t, ts, func(ctx context.Context) {
		res = flood(ctx, atk, 3000, 3*time.Second, func() *http.Request { return mk(ts.base) })
	})
	t.Logf("attack: %s; legitimate call with media in %v", res, took.Round(time.Millisecond))
	if max := allowedBy(r, res.elapsed); res.ok.Load() > max {
		t.Errorf("attacker got %d answers in %v, the limit allows %d", res.ok.Load(), res.elapsed, max)
	}
	checkRefusal(t, res)
	// Requests cut off when the attack ends may be counted without the
	// attacker reading the answer.
	if got := refusals(t, ts, limit); got < float64(res.refused.Load()) || got > float64(res.refused.Load()+res.other.Load()) {
		t.Errorf("/metrics counts %v %s refusals, the attacker saw %d (and %d unanswered)", got, limit, res.refused.Load(), res.other.Load())
	}
}

// TestAbuseTokenFlood: one address asks for tokens of random rooms as fast
// as it can (the way to find live rooms by guessing codes). The default
// limit lets the burst through and answers the rest 429.
func TestAbuseTokenFlood(t *testing.T) {
	leaktest.Check(t)
	floodAPI(t, admission.DefaultTokens, "tokens", func(base string) *http.Request {
		req, _ := http.NewRequest("POST", base+"/api/token", strings.NewReader(`{"room":"`+randomRoom(t)+`"}`))
		req.Header.Set("Content-Type", "application/json")
		return req
	})
}

// TestAbuseRoomFlood: one address asks for room codes as fast as it can.
func TestAbuseRoomFlood(t *testing.T) {
	leaktest.Check(t)
	floodAPI(t, admission.DefaultRooms, "rooms", func(base string) *http.Request {
		req, _ := http.NewRequest("POST", base+"/api/rooms", nil)
		return req
	})
}

// TestAbuseCheckoutFlood: every checkout call costs a Stripe API call; a
// flood from one address must not become a flood at Stripe.
func TestAbuseCheckoutFlood(t *testing.T) {
	leaktest.Check(t)
	w := newBillingWorld(t)
	bs := w.server(t, testSecret, nil)
	atk := attackerClient("127.0.0.2")
	defer atk.CloseIdleConnections()
	var res *floodResult
	took := duringAttack(t, bs.testServer, func(ctx context.Context) {
		res = flood(ctx, atk, 300, 3*time.Second, func() *http.Request {
			req, _ := http.NewRequest("POST", bs.base+"/api/checkout", strings.NewReader(`{"plan":"pro"}`))
			req.Header.Set("Content-Type", "application/json")
			return req
		})
	})
	calls := len(w.rec.Requests("/v1/checkout/sessions"))
	t.Logf("attack: %s; %d Stripe checkout calls; legitimate call with media in %v", res, calls, took.Round(time.Millisecond))
	if max := allowedBy(admission.DefaultCheckout, res.elapsed); int64(calls) > max {
		t.Errorf("%d checkout requests became %d Stripe calls, the limit allows %d", res.sent.Load(), calls, max)
	}
	checkRefusal(t, res)
}

// TestAbuseContentType: a cross-site page can POST text/plain without a
// preflight; JSON endpoints refuse anything but application/json.
func TestAbuseContentType(t *testing.T) {
	leaktest.Check(t)
	ts := newTestServer(t, nil)
	atk := attackerClient("127.0.0.2")
	defer atk.CloseIdleConnections()
	took := duringAttack(t, ts, func(context.Context) {
		for _, ct := range []string{"text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x", ""} {
			req, _ := http.NewRequest("POST", ts.base+"/api/token", strings.NewReader(`{"room":"`+randomRoom(t)+`"}`))
			req.Header.Set("Content-Type", ct)
			if ct == "" {
				req.Header["Content-Type"] = nil
			}
			resp, err := atk.Do(req)
			if err != nil {
				t.Error(err)
				return
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusUnsupportedMediaType {
				t.Errorf("POST /api/token as %q: %d, want 415", ct, resp.StatusCode)
			}
		}
	})
	t.Logf("legitimate call with media in %v", took.Round(time.Millisecond))
	if got := refusals(t, ts, "content_type"); got != 4 {
		t.Errorf("/metrics counts %v content type refusals, want 4", got)
	}
}

// TestAbuseSlowClients: connections that send half a request, or headers
// and never the body, are closed by the read time-outs instead of staying
// open (slowloris).
func TestAbuseSlowClients(t *testing.T) {
	leaktest.Check(t)
	ts := newTestServer(t, func(c *Config) { c.HTTP = HTTPTimeouts{ReadHeader: 500 * time.Millisecond, Read: time.Second} })
	const conns = 100
	addr := strings.TrimPrefix(ts.base, "http://")
	var open []net.Conn
	defer func() {
		for _, c := range open {
			c.Close()
		}
	}()
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP("127.0.0.2")}}
	for i := range conns {
		c, err := d.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		open = append(open, c)
		req := "POST /api/token HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{" // body never finished
		if i%2 == 0 {
			req = "GET / HTTP/1.1\r\nHost: x\r\n" // headers never finished
		}
		if _, err := c.Write([]byte(req)); err != nil {
			t.Fatal(err)
		}
	}
	took := legitCall(t, ts)
	deadline := time.Now().Add(3 * time.Second)
	stillOpen := 0
	for _, c := range open {
		_ = c.SetReadDeadline(deadline)
		_, err := bufio.NewReader(c).ReadString(0)
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			stillOpen++
		}
	}
	t.Logf("%d stalled connections; legitimate call with media in %v; open after 3 s: %d", conns, took.Round(time.Millisecond), stillOpen)
	if stillOpen > 0 {
		t.Errorf("%d of %d stalled connections still open 3 s after they stopped sending (read time-out 1 s)", stillOpen, conns)
	}
}

// dialBusy opens a WebSocket from d and reports whether the server refused
// it with a busy error (and with what message); a socket it keeps open is
// returned for the caller to close.
func dialBusy(t *testing.T, d *websocket.Dialer, url string) (*websocket.Conn, string) {
	t.Helper()
	c, _, err := d.Dial(url, nil)
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	_ = c.SetReadDeadline(time.Now().Add(200 * time.Millisecond))
	var e signaling.Error
	if err := c.ReadJSON(&e); err == nil {
		c.Close()
		if e.Code != signaling.CodeBusy || !e.Fatal {
			t.Fatalf("unexpected message %+v", e)
		}
		return nil, e.Message
	}
	_ = c.SetReadDeadline(time.Time{})
	return c, ""
}

// TestAbuseSessionCaps: one address opens WebSockets until refused, then
// more addresses fill the node. Each address stops at its cap, the node at
// its cap, with a busy error the client shows; the legitimate pair, which
// joined while the node had room, keeps its call.
func TestAbuseSessionCaps(t *testing.T) {
	leaktest.Check(t)
	const perAddr, node = 5, 24
	ts := newTestServer(t, func(c *Config) {
		c.Limits = admission.Config{SessionsPerAddr: perAddr, Sessions: node, Upgrades: admission.Unlimited}
	})
	wsURL := strings.Replace(ts.base, "http", "ws", 1) + "/ws"
	var held []*websocket.Conn
	defer func() {
		for _, c := range held {
			c.Close()
		}
	}()
	open := func(src string, n int) (refused []string) {
		d := attackerDialer(src)
		for range n {
			c, msg := dialBusy(t, d, wsURL)
			if c != nil {
				held = append(held, c)
			} else {
				refused = append(refused, msg)
			}
		}
		return refused
	}
	if r := open("127.0.0.2", 3*perAddr); len(r) != 2*perAddr || !strings.Contains(r[0], "too many open connections") {
		t.Fatalf("one address opening %d sessions: %d refused (%q), want %d", 3*perAddr, len(r), r, 2*perAddr)
	}
	took := duringAttack(t, ts, func(ctx context.Context) {
		for i := 3; i < 6 && ctx.Err() == nil; i++ {
			open(fmt.Sprintf("127.0.0.%d", i), perAddr)
		}
	})
	// 4 addresses × 5 = 20 attacker sessions and 0 to 2 of the pair's,
	// depending on when its clients left; fill the rest from new addresses.
	var full []string
	for i := 6; i < 12; i++ {
		full = append(full, open(fmt.Sprintf("127.0.0.%d", i), perAddr)...)
	}
	t.Logf("sessions held by the attacker: %d; node refusals: %d; legitimate call with media in %v", len(held), len(full), took.Round(time.Millisecond))
	if len(held) > node || len(full) == 0 || !strings.Contains(full[0], "server is full") {
		t.Errorf("attacker holds %d sessions (node cap %d), node refusals %q", len(held), node, full)
	}
	if refusals(t, ts, "sessions_per_address") < 2*perAddr || refusals(t, ts, "sessions") != float64(len(full)) {
		t.Error("/metrics does not count the session refusals")
	}
}

// TestAbuseProxyHeader: a client that is not the trusted proxy cannot
// escape its limit by writing X-Forwarded-For; clients behind the trusted
// proxy are counted by the address the proxy saw.
func TestAbuseProxyHeader(t *testing.T) {
	leaktest.Check(t)
	r := admission.Rate{PerSecond: 1, Burst: 5}
	ts := newTestServer(t, func(c *Config) {
		c.Limits = admission.Config{Tokens: r, ProxyHeader: "X-Forwarded-For", TrustedProxies: []netip.Prefix{netip.MustParsePrefix("127.0.0.3/32")}}
	})
	post := func(c *http.Client, xff string) int {
		req, _ := http.NewRequest("POST", ts.base+"/api/token", strings.NewReader(`{"room":"`+randomRoom(t)+`"}`))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("X-Forwarded-For", xff)
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	atk := attackerClient("127.0.0.2")
	defer atk.CloseIdleConnections()
	proxy := attackerClient("127.0.0.3")
	defer proxy.CloseIdleConnections()
	var forged, behind int
	took := duringAttack(t, ts, func(context.Context) {
		for i := range 40 {
			if post(atk, fmt.Sprintf("198.51.100.%d", i)) == http.StatusOK {
				forged++
			}
		}
		for i := range 20 {
			if post(proxy, fmt.Sprintf("6.6.6.6, 198.51.100.%d", i)) == http.StatusOK {
				behind++
			}
		}
	})
	t.Logf("forged X-Forwarded-For: %d of 40 admitted; 20 clients behind the proxy: %d admitted; legitimate call in %v", forged, behind, took.Round(time.Millisecond))
	if int64(forged) > allowedBy(r, 2*time.Second) {
		t.Errorf("forged X-Forwarded-For from an untrusted client got %d of 40 tokens past a burst of %d", forged, r.Burst)
	}
	if behind != 20 {
		t.Errorf("20 different clients behind the trusted proxy: only %d admitted", behind)
	}
}
