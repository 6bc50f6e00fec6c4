package admission

import (
	"errors"
	"net/http"
	"net/netip"
	"testing"
	"time"
)

func TestParseRate(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want Rate
		ok   bool
	}{
		{"5/s,50", Rate{5, 50}, true},
		{"30/m,10", Rate{0.5, 10}, true},
		{"off", Unlimited, true},
		{"5/s", Rate{}, false},
		{"0/s,1", Rate{}, false},
		{"5/h,1", Rate{}, false},
		{"5/s,0", Rate{}, false},
		{"x/s,1", Rate{}, false},
	} {
		got, err := ParseRate(tc.in)
		if (err == nil) != tc.ok || (tc.ok && got != tc.want) {
			t.Errorf("ParseRate(%q) = %v, %v; want %v ok=%v", tc.in, got, err, tc.want, tc.ok)
		}
		if tc.ok {
			if back, err := ParseRate(got.String()); err != nil || back != got {
				t.Errorf("%v: String %q does not parse back (%v, %v)", got, got.String(), back, err)
			}
		}
	}
}

type fakeClock struct{ t time.Time }

func (c *fakeClock) now() time.Time { return c.t }

func newGate(t *testing.T, cfg Config) (*Gate, *fakeClock) {
	t.Helper()
	clk := &fakeClock{time.Unix(1e9, 0)}
	cfg.Now = clk.now
	g, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return g, clk
}

func TestAllowPerAddress(t *testing.T) {
	g, clk := newGate(t, Config{Tokens: Rate{PerSecond: 1, Burst: 3},
		Exempt: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}})
	a, b := netip.MustParseAddr("192.0.2.1"), netip.MustParseAddr("192.0.2.2")
	for i := range 3 {
		if err := g.Allow(Tokens, a); err != nil {
			t.Fatalf("token %d: %v", i, err)
		}
	}
	err := g.Allow(Tokens, a)
	var ref *Refusal
	if !errors.As(err, &ref) || ref.Limit != Tokens || ref.RetryAfter <= 0 || ref.RetryAfter > time.Second {
		t.Fatalf("4th token: %v, want a refusal with a retry within 1s", err)
	}
	if err := g.Allow(Tokens, b); err != nil {
		t.Errorf("another address is throttled too: %v", err)
	}
	if err := g.Allow(Rooms, a); err != nil {
		t.Errorf("another limit is throttled too: %v", err)
	}
	for range 100 {
		if err := g.Allow(Tokens, netip.MustParseAddr("127.0.0.9")); err != nil {
			t.Fatalf("exempt address throttled: %v", err)
		}
	}
	clk.t = clk.t.Add(time.Second)
	if err := g.Allow(Tokens, a); err != nil {
		t.Errorf("after a second: %v", err)
	}
	if got := g.Refusals()["tokens"]; got != 1 {
		t.Errorf("refusals = %d, want 1", got)
	}
}

func TestIPv6CountedPer64(t *testing.T) {
	g, _ := newGate(t, Config{Tokens: Rate{PerSecond: 1, Burst: 1}})
	if err := g.Allow(Tokens, netip.MustParseAddr("2001:db8:1:2::1")); err != nil {
		t.Fatal(err)
	}
	if g.Allow(Tokens, netip.MustParseAddr("2001:db8:1:2:ffff::9")) == nil {
		t.Error("a second address of the same /64 got a fresh bucket")
	}
	if err := g.Allow(Tokens, netip.MustParseAddr("2001:db8:1:3::1")); err != nil {
		t.Errorf("another /64: %v", err)
	}
}

func TestMaxAddrsFailsClosed(t *testing.T) {
	g, clk := newGate(t, Config{Tokens: Rate{PerSecond: 1, Burst: 1}, MaxAddrs: 2})
	for _, s := range []string{"192.0.2.1", "192.0.2.2"} {
		if err := g.Allow(Tokens, netip.MustParseAddr(s)); err != nil {
			t.Fatal(err)
		}
	}
	if g.Allow(Tokens, netip.MustParseAddr("192.0.2.3")) == nil {
		t.Error("a third address was admitted while two are throttled")
	}
	clk.t = clk.t.Add(2 * time.Second) // both buckets full again: forgettable
	if err := g.Allow(Tokens, netip.MustParseAddr("192.0.2.3")); err != nil {
		t.Errorf("after the others went idle: %v", err)
	}
}

func TestSessionCaps(t *testing.T) {
	g, _ := newGate(t, Config{SessionsPerAddr: 2, Sessions: 3, Exempt: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}})
	a := netip.MustParseAddr("192.0.2.1")
	r1, err1 := g.Acquire(a)
	r2, err2 := g.Acquire(a)
	if err1 != nil || err2 != nil {
		t.Fatal(err1, err2)
	}
	var ref *Refusal
	if _, err := g.Acquire(a); !errors.As(err, &ref) || ref.Limit != SessionsPerAddr {
		t.Fatalf("third session of one address: %v", err)
	}
	r3, err := g.Acquire(netip.MustParseAddr("10.1.1.1"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := g.Acquire(netip.MustParseAddr("10.1.1.1")); !errors.As(err, &ref) || ref.Limit != Sessions {
		t.Fatalf("fourth session on the node (exempt address): %v", err)
	}
	r1()
	r1() // twice is harmless
	if _, err := g.Acquire(a); err != nil {
		t.Errorf("after a release: %v", err)
	}
	r2()
	r3()
	if got := g.Refusals(); got["sessions"] != 1 || got["sessions_per_address"] != 1 {
		t.Errorf("refusals %v", got)
	}
}

func TestClientAddr(t *testing.T) {
	trusted := []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32"), netip.MustParsePrefix("10.0.0.0/8")}
	for _, tc := range []struct {
		name, header, remote string
		values               []string
		want                 string
	}{
		{"no header configured", "", "192.0.2.7:5000", []string{"1.2.3.4"}, "192.0.2.7"},
		{"untrusted peer's header ignored", "X-Real-IP", "192.0.2.7:5000", []string{"1.2.3.4"}, "192.0.2.7"},
		{"trusted proxy's X-Real-IP", "X-Real-IP", "127.0.0.1:5000", []string{"198.51.100.4"}, "198.51.100.4"},
		{"missing header: the proxy", "X-Real-IP", "127.0.0.1:5000", nil, "127.0.0.1"},
		{"garbage header: the proxy", "X-Real-IP", "127.0.0.1:5000", []string{"nope"}, "127.0.0.1"},
		{"XFF: last untrusted hop", "X-Forwarded-For", "127.0.0.1:5000", []string{"6.6.6.6, 198.51.100.4, 10.0.0.2"}, "198.51.100.4"},
		{"XFF: spoofed left entries skipped", "X-Forwarded-For", "127.0.0.1:5000", []string{"1.1.1.1", "198.51.100.4"}, "198.51.100.4"},
		{"IPv6 peer", "", "[2001:db8::1]:443", nil, "2001:db8::1"},
		{"mapped IPv4", "", "[::ffff:192.0.2.9]:443", nil, "192.0.2.9"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g, _ := newGate(t, Config{ProxyHeader: tc.header, TrustedProxies: trusted})
			r := &http.Request{RemoteAddr: tc.remote, Header: http.Header{}}
			for _, v := range tc.values {
				r.Header.Add(tc.header, v)
			}
			if got := g.ClientAddr(r); got.String() != tc.want {
				t.Errorf("got %v, want %s", got, tc.want)
			}
		})
	}
}

func TestParsePrefixes(t *testing.T) {
	ps, err := ParsePrefixes("127.0.0.1, ::1,10.0.0.0/8,")
	if err != nil || len(ps) != 3 || ps[0].Bits() != 32 || ps[1].Bits() != 128 {
		t.Fatalf("%v %v", ps, err)
	}
	if _, err := ParsePrefixes("10.0.0.0/33"); err == nil {
		t.Error("bad prefix accepted")
	}
}
