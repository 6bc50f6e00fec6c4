package turnserver

import (
	"github.com/monkeythorn/meet/internal/leaktest"
	"github.com/monkeythorn/meet/internal/poll"
	"net"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/monkeythorn/meet/auth"
)

func TestAllocationQuotaPerSourceAndTotal(t *testing.T) {
	leaktest.Check(t)
	sfu := udpPeer(t, "127.0.0.1")
	for _, tc := range []struct {
		name      string
		edit      func(*Config)
		refused   func(Stats) uint64
		allowedIn int
	}{
		{"per source", func(c *Config) { c.MaxAllocationsPerSource = 3 }, func(s Stats) uint64 { return s.SourceQuota }, 3},
		{"total", func(c *Config) { c.MaxAllocations = 2 }, func(s Stats) uint64 { return s.TotalQuota }, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ts := startServer(t, []netip.AddrPort{addrPort(t, sfu.LocalAddr())}, tc.edit)
			// A new credential for each allocation: the per-user quota
			// is not what stops them.
			for i := range tc.allowedIn {
				user, pass := creds("p" + string(rune('a'+i)))
				allocate(t, ts.dialClient(t, "udp", user, pass))
			}
			user, pass := creds("one-more")
			if relay, err := ts.dialClient(t, "tcp", user, pass).Allocate(); err == nil {
				_ = relay.Close()
				t.Fatalf("allocation %d succeeded", tc.allowedIn+1)
			}
			if got := tc.refused(ts.Stats()); got != 1 {
				t.Errorf("refusals counted %d, want 1 (%+v)", got, ts.Stats())
			}
		})
	}
}

// inCall is a set of participant ids, as the server's presence would be.
type inCall struct {
	mu  sync.Mutex
	ids map[string]bool
}

func (c *inCall) has(id string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.ids[id]
}

func TestCredentialsOnlyForParticipantsInCall(t *testing.T) {
	leaktest.Check(t)
	sfu := udpPeer(t, "127.0.0.1")
	clock := &fakeNow{t: time.Now()}
	present := &inCall{ids: map[string]bool{"member": true}}
	ts := startServer(t, []netip.AddrPort{addrPort(t, sfu.LocalAddr())}, func(c *Config) {
		c.InCall, c.Now = present.has, clock.now
	})
	user, pass := creds("outsider")
	if relay, err := ts.dialClient(t, "udp", user, pass).Allocate(); err == nil {
		_ = relay.Close()
		t.Fatal("valid credentials of someone not in a call allocated a relay")
	}
	if ts.Stats().NotInCall == 0 {
		t.Error("refusal not counted")
	}

	user, pass = creds("member")
	cl := ts.dialClient(t, "udp", user, pass)
	relay := allocate(t, cl)
	// The credentials expire during the call: the participant's relay
	// keeps working (a new permission is an authenticated request) ...
	clock.add(2 * time.Minute)
	if _, err := relay.WriteTo([]byte("still here"), sfu.LocalAddr()); err != nil {
		t.Fatalf("relay of a participant in the call after expiry: %v", err)
	}
	if got, _ := readWithin(t, sfu, 2*time.Second); got != "still here" {
		t.Fatalf("SFU got %q", got)
	}
	// ... but a new allocation needs fresh credentials,
	if r, err := ts.dialClient(t, "udp", user, pass).Allocate(); err == nil {
		_ = r.Close()
		t.Error("expired credentials made a new allocation")
	}
	// and once the participant has left, nothing is accepted.
	present.mu.Lock()
	delete(present.ids, "member")
	present.mu.Unlock()
	fresh, freshPass := auth.TURNCredentials(testSecret, "member", time.Minute, clock.now())
	if r, err := ts.dialClient(t, "udp", fresh, freshPass).Allocate(); err == nil {
		_ = r.Close()
		t.Error("credentials of a participant who left made an allocation")
	}
}

type fakeNow struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeNow) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeNow) add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func TestIdleTCPConnectionsClosed(t *testing.T) {
	leaktest.Check(t)
	sfu := udpPeer(t, "127.0.0.1")
	ts := startServer(t, []netip.AddrPort{addrPort(t, sfu.LocalAddr())}, func(c *Config) { c.IdleTimeout = 300 * time.Millisecond })
	_, tcpA, tlsA := ts.Addrs()
	for _, a := range []net.Addr{tcpA, tlsA} {
		c, err := net.Dial("tcp", a.String())
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		_ = c.SetReadDeadline(time.Now().Add(3 * time.Second))
		start := time.Now()
		if _, err := c.Read(make([]byte, 1)); err == nil || time.Since(start) > 2*time.Second {
			t.Errorf("silent connection to %v: read %v after %v, want closed after ~300ms", a, err, time.Since(start))
		}
	}
	if got := ts.Stats().IdleConns; got != 2 {
		t.Errorf("IdleConns = %d, want 2", got)
	}
}

func TestIdleAllocationEnds(t *testing.T) {
	leaktest.Check(t)
	sfu := udpPeer(t, "127.0.0.1")
	ts := startServer(t, []netip.AddrPort{addrPort(t, sfu.LocalAddr())}, func(c *Config) { c.AllocationIdleTimeout = 400 * time.Millisecond })
	userA, passA := creds("busy")
	busy := allocate(t, ts.dialClient(t, "udp", userA, passA))
	if _, err := busy.WriteTo([]byte("hi"), sfu.LocalAddr()); err != nil {
		t.Fatal(err)
	}
	readWithin(t, sfu, 2*time.Second) // the permission exists; the SFU may answer
	userB, passB := creds("idle")
	allocate(t, ts.dialClient(t, "udp", userB, passB))
	// The SFU keeps talking to the busy relay only.
	for range 10 {
		if _, err := sfu.WriteTo([]byte("ice check"), busy.LocalAddr()); err != nil {
			t.Fatal(err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	poll.Until(t, 2*time.Second, "the idle allocation to end", func() bool { return ts.AllocationCount() == 1 })
	if got := ts.Stats().IdleAllocations; got != 1 {
		t.Errorf("IdleAllocations = %d, want 1", got)
	}
}
