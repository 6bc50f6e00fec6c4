package turnserver

import (
	"crypto/tls"
	"errors"
	"github.com/monkeythorn/meet/internal/leaktest"
	"github.com/monkeythorn/meet/internal/poll"
	"io"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/monkeythorn/meet/auth"
)

func TestRelayToAllowedPeer(t *testing.T) {
	for _, transport := range []string{"udp", "tcp", "tls"} {
		t.Run(transport, func(t *testing.T) {
			leaktest.Check(t)
			sfu := udpPeer(t, "127.0.0.1")
			ts := startServer(t, []netip.AddrPort{addrPort(t, sfu.LocalAddr())}, nil)
			user, pass := creds("participant-1")
			relay := allocate(t, ts.dialClient(t, transport, user, pass))

			if got := ts.allocs.Load(); got != 1 {
				t.Errorf("OnAllocation sum = %d after Allocate, want 1", got)
			}
			if _, err := relay.WriteTo([]byte("hello sfu"), sfu.LocalAddr()); err != nil {
				t.Fatalf("relay WriteTo: %v", err)
			}
			msg, from := readWithin(t, sfu, 2*time.Second)
			if msg != "hello sfu" || !sameUDPAddr(from, relay.LocalAddr()) {
				t.Fatalf("SFU got %q from %v, want %q from relay %v", msg, from, "hello sfu", relay.LocalAddr())
			}
			if _, err := sfu.WriteTo([]byte("hello client"), from); err != nil {
				t.Fatal(err)
			}
			msg, from = readWithin(t, relay, 2*time.Second)
			if msg != "hello client" || !sameUDPAddr(from, sfu.LocalAddr()) {
				t.Fatalf("client got %q from %v", msg, from)
			}

			// Closing the relay deallocates (Refresh with lifetime 0).
			if err := relay.Close(); err != nil {
				t.Fatal(err)
			}
			poll.Until(t, 2*time.Second, "allocation to end", func() bool {
				return ts.allocs.Load() == 0 && ts.AllocationCount() == 0
			})
		})
	}
}

// TestRelayRefusesOtherPorts: a permission covers a whole IP, so another
// service on the SFU's IP is reachable at the TURN level; the relay socket
// filter must stop datagrams both ways.
func TestRelayRefusesOtherPorts(t *testing.T) {
	leaktest.Check(t)
	sfu := udpPeer(t, "127.0.0.1")
	other := udpPeer(t, "127.0.0.1") // same IP, another port
	ts := startServer(t, []netip.AddrPort{addrPort(t, sfu.LocalAddr())}, nil)
	user, pass := creds("p")
	relay := allocate(t, ts.dialClient(t, "udp", user, pass))

	// Outbound: to the other port first, then to the SFU. Both go out of
	// the same relay socket in order, so once the SFU has its datagram the
	// other one would have been delivered already if it were allowed.
	if _, err := relay.WriteTo([]byte("to other"), other.LocalAddr()); err != nil {
		t.Fatal(err)
	}
	if _, err := relay.WriteTo([]byte("to sfu"), sfu.LocalAddr()); err != nil {
		t.Fatal(err)
	}
	if msg, _ := readWithin(t, sfu, 2*time.Second); msg != "to sfu" {
		t.Fatalf("SFU got %q", msg)
	}
	expectSilence(t, other, 100*time.Millisecond)

	// Inbound: the other port writes first, then the SFU. The client must
	// see only the SFU's datagram.
	relayAddr := relay.LocalAddr()
	if _, err := other.WriteTo([]byte("from other"), relayAddr); err != nil {
		t.Fatal(err)
	}
	if _, err := sfu.WriteTo([]byte("from sfu"), relayAddr); err != nil {
		t.Fatal(err)
	}
	if msg, from := readWithin(t, relay, 2*time.Second); msg != "from sfu" {
		t.Fatalf("client got %q from %v, want only the SFU's datagram", msg, from)
	}
	st := ts.Stats()
	if st.DroppedToPeer < 1 || st.DroppedFromPeer < 1 {
		t.Errorf("stats %+v: want both drop counters > 0", st)
	}
}

func TestPermissionRefusedForOtherIP(t *testing.T) {
	leaktest.Check(t)
	sfu := udpPeer(t, "127.0.0.1")
	// 127.0.0.2 is loopback on Linux too, and stands for any other host,
	// such as an internal service behind our firewall.
	outsider := udpPeer(t, "127.0.0.2")
	ts := startServer(t, []netip.AddrPort{addrPort(t, sfu.LocalAddr())}, nil)
	user, pass := creds("p")
	cl := ts.dialClient(t, "udp", user, pass)
	relay := allocate(t, cl)

	if err := cl.CreatePermission(outsider.LocalAddr()); err == nil {
		t.Fatal("CreatePermission for a non-SFU address succeeded")
	}
	if _, err := relay.WriteTo([]byte("x"), outsider.LocalAddr()); err == nil {
		t.Error("WriteTo a non-SFU address succeeded")
	}
	if got := ts.Stats().RefusedPermissions; got < 1 {
		t.Errorf("RefusedPermissions = %d, want > 0", got)
	}
	// The allowed peer still works on the same allocation.
	if err := cl.CreatePermission(sfu.LocalAddr()); err != nil {
		t.Fatalf("CreatePermission for the SFU: %v", err)
	}
	if _, err := relay.WriteTo([]byte("ok"), sfu.LocalAddr()); err != nil {
		t.Fatal(err)
	}
	if msg, _ := readWithin(t, sfu, 2*time.Second); msg != "ok" {
		t.Fatalf("SFU got %q", msg)
	}
	expectSilence(t, outsider, 100*time.Millisecond)
}

func TestCredentialsRefused(t *testing.T) {
	leaktest.Check(t)
	sfu := udpPeer(t, "127.0.0.1")
	ts := startServer(t, []netip.AddrPort{addrPort(t, sfu.LocalAddr())}, nil)
	now := time.Now()
	goodUser, goodPass := auth.TURNCredentials(testSecret, "p", time.Minute, now)
	expUser, expPass := auth.TURNCredentials(testSecret, "p", time.Minute, now.Add(-time.Hour))
	_, otherSecretPass := auth.TURNCredentials([]byte("some-other-secret-0123456789abcdef"), "p", time.Minute, now)
	// Same password, later expiry written into the username: tampering.
	tamperedUser, _ := auth.TURNCredentials(testSecret, "p", 24*time.Hour, now)

	tests := []struct {
		name, user, pass string
	}{
		{"wrong password", goodUser, goodPass + "x"},
		{"expired", expUser, expPass},
		{"signed with another secret", goodUser, otherSecretPass},
		{"extended expiry", tamperedUser, goodPass},
		{"not a REST username", "alice", goodPass},
		{"empty username", "", goodPass},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cl := ts.dialClient(t, "udp", tt.user, tt.pass)
			relay, err := cl.Allocate()
			if err == nil {
				_ = relay.Close()
				t.Fatal("Allocate succeeded with bad credentials")
			}
			if n := ts.AllocationCount(); n != 0 {
				t.Fatalf("%d allocations exist", n)
			}
		})
	}
	// The control: the good credentials work on the same server.
	relay := allocate(t, ts.dialClient(t, "udp", goodUser, goodPass))
	if relay.LocalAddr() == nil {
		t.Fatal("no relay address")
	}
}

func TestCredentialsExpireWithClock(t *testing.T) {
	leaktest.Check(t)
	sfu := udpPeer(t, "127.0.0.1")
	at := time.Now().Add(2 * time.Hour) // server clock two hours ahead
	ts := startServer(t, []netip.AddrPort{addrPort(t, sfu.LocalAddr())}, func(c *Config) {
		c.Now = func() time.Time { return at }
	})
	user, pass := creds("p") // valid for a minute by the real clock
	if relay, err := ts.dialClient(t, "udp", user, pass).Allocate(); err == nil {
		_ = relay.Close()
		t.Fatal("credentials accepted after expiry by the server clock")
	}
	if ts.Stats().AuthFailures == 0 {
		t.Error("AuthFailures not counted")
	}
}

// TestCloseEndsEverything leaves allocations and idle TCP/TLS connections
// open, closes the server and checks that the server hung up on every
// connection, the allocation gauge returned to zero, and (in cleanup) that
// no goroutine is left behind.
func TestCloseEndsEverything(t *testing.T) {
	leaktest.Check(t)
	sfu := udpPeer(t, "127.0.0.1")
	ts := startServer(t, []netip.AddrPort{addrPort(t, sfu.LocalAddr())}, nil)
	_, tcpA, tlsA := ts.Addrs()
	for _, tr := range []string{"udp", "tcp", "tls"} {
		user, pass := creds(tr)
		allocate(t, ts.dialClient(t, tr, user, pass))
	}
	if got := ts.allocs.Load(); got != 3 {
		t.Fatalf("OnAllocation sum = %d, want 3", got)
	}
	// Idle connections: a TCP client that never speaks, and a TLS client
	// stuck before its handshake.
	idle := make([]net.Conn, 0, 2)
	for _, a := range []net.Addr{tcpA, tlsA} {
		c, err := net.DialTimeout("tcp", a.String(), 2*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = c.Close() })
		idle = append(idle, c)
	}
	// Let the server accept them before closing.
	time.Sleep(50 * time.Millisecond)

	if err := ts.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := ts.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	// pion drops an allocation from its count before it calls
	// OnAllocationDeleted, so the callbacks may trail Close a little.
	poll.Until(t, time.Second, "OnAllocation sum 0 after Close", func() bool { return ts.allocs.Load() == 0 })
	for _, c := range idle {
		_ = c.SetReadDeadline(time.Now().Add(2 * time.Second))
		if _, err := c.Read(make([]byte, 64)); !errors.Is(err, io.EOF) && !isConnReset(err) {
			t.Errorf("idle connection to %s: read err %v, want the server to hang up", c.RemoteAddr(), err)
		}
	}
	if _, err := net.DialTimeout("tcp", tcpA.String(), time.Second); err == nil {
		t.Error("TCP listener still accepts after Close")
	}
}

func isConnReset(err error) bool {
	var op *net.OpError
	return errors.As(err, &op) && !op.Timeout()
}

func TestRelayPortRange(t *testing.T) {
	leaktest.Check(t)
	sfu := udpPeer(t, "127.0.0.1")
	const lo, hi = 47000, 47999
	ts := startServer(t, []netip.AddrPort{addrPort(t, sfu.LocalAddr())}, func(c *Config) {
		c.RelayPortMin, c.RelayPortMax = lo, hi
	})
	user, pass := creds("p")
	relay := allocate(t, ts.dialClient(t, "udp", user, pass))
	port := relay.LocalAddr().(*net.UDPAddr).Port
	if port < lo || port > hi {
		t.Fatalf("relay port %d outside %d-%d", port, lo, hi)
	}
}

func TestConfigValidation(t *testing.T) {
	allow := AllowList(netip.MustParseAddrPort("127.0.0.1:5000"))
	base := func() Config {
		return Config{Secret: testSecret, UDPAddr: "127.0.0.1:0", RelayIP: net.IPv4(127, 0, 0, 1), AllowedPeers: allow}
	}
	tests := []struct {
		name string
		edit func(*Config)
	}{
		{"short secret", func(c *Config) { c.Secret = c.Secret[:auth.MinSecretLen-1] }},
		{"no listener", func(c *Config) { c.UDPAddr = "" }},
		{"TLS address without config", func(c *Config) { c.TLSAddr = "127.0.0.1:0" }},
		{"no relay IP", func(c *Config) { c.RelayIP = nil }},
		{"unspecified relay IP", func(c *Config) { c.RelayIP = net.IPv4zero }},
		{"no AllowedPeers (open relay)", func(c *Config) { c.AllowedPeers = nil }},
		{"negative quota", func(c *Config) { c.MaxAllocationsPerUser = -1 }},
		{"half a port range", func(c *Config) { c.RelayPortMin = 40000 }},
		{"inverted port range", func(c *Config) { c.RelayPortMin, c.RelayPortMax = 50000, 40000 }},
		{"bad listen address", func(c *Config) { c.UDPAddr = "256.0.0.1:0" }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			leaktest.Check(t)
			cfg := base()
			tt.edit(&cfg)
			s, err := New(cfg)
			if err == nil {
				_ = s.Close()
				t.Fatal("New accepted a bad config")
			}
		})
	}
	t.Run("base config works", func(t *testing.T) {
		leaktest.Check(t)
		s, err := New(base())
		if err != nil {
			t.Fatal(err)
		}
		udp, tcp, tls := s.Addrs()
		if udp == nil || tcp != nil || tls != nil {
			t.Errorf("Addrs = %v, %v, %v; want only UDP", udp, tcp, tls)
		}
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
	})
}

func TestAllowList(t *testing.T) {
	allow := AllowList(
		netip.MustParseAddrPort("192.0.2.10:5000"),
		netip.MustParseAddrPort("[::ffff:192.0.2.11]:6000"),
		netip.MustParseAddrPort("[2001:db8::1]:7000"),
	)
	tests := []struct {
		ip   string
		port int
		want bool
	}{
		{"192.0.2.10", 5000, true},
		{"192.0.2.10", 0, true}, // permission: some port on this IP is allowed
		{"192.0.2.10", 5001, false},
		{"192.0.2.11", 6000, true}, // entry given IPv4-mapped
		{"::ffff:192.0.2.10", 5000, true},
		{"2001:db8::1", 7000, true},
		{"2001:db8::1", 0, true},
		{"2001:db8::2", 7000, false},
		{"192.0.2.12", 0, false},
		{"169.254.169.254", 80, false},
		{"127.0.0.1", 6379, false},
		{"192.0.2.10", -1, false},
		{"192.0.2.10", 70000, false},
	}
	for _, tt := range tests {
		if got := allow(net.ParseIP(tt.ip), tt.port); got != tt.want {
			t.Errorf("allow(%s, %d) = %v, want %v", tt.ip, tt.port, got, tt.want)
		}
	}
	if AllowList()(net.ParseIP("127.0.0.1"), 0) {
		t.Error("an empty allow list allows something")
	}
	if allow(nil, 5000) {
		t.Error("nil IP allowed")
	}
}

func TestAllocationQuotaPerUser(t *testing.T) {
	leaktest.Check(t)
	sfu := udpPeer(t, "127.0.0.1")
	ts := startServer(t, []netip.AddrPort{addrPort(t, sfu.LocalAddr())}, func(c *Config) {
		c.MaxAllocationsPerUser = 2
	})
	user, pass := creds("greedy")
	first := allocate(t, ts.dialClient(t, "udp", user, pass))
	allocate(t, ts.dialClient(t, "tcp", user, pass))
	if relay, err := ts.dialClient(t, "udp", user, pass).Allocate(); err == nil {
		_ = relay.Close()
		t.Fatal("third allocation for one username succeeded with a quota of 2")
	}
	if got := ts.Stats().QuotaRefusals; got != 1 {
		t.Errorf("QuotaRefusals = %d, want 1", got)
	}
	// Another participant is not affected.
	otherUser, otherPass := creds("modest")
	allocate(t, ts.dialClient(t, "udp", otherUser, otherPass))
	// Freeing one allocation makes room again.
	if err := first.Close(); err != nil {
		t.Fatal(err)
	}
	poll.Until(t, 2*time.Second, "deallocation", func() bool { return ts.AllocationCount() == 2 })
	allocate(t, ts.dialClient(t, "udp", user, pass))
}

func TestTLSRefusesOldVersions(t *testing.T) {
	leaktest.Check(t)
	sfu := udpPeer(t, "127.0.0.1")
	ts := startServer(t, []netip.AddrPort{addrPort(t, sfu.LocalAddr())}, nil)
	_, _, tlsA := ts.Addrs()
	cfg := ts.clientTLS.Clone()
	cfg.MaxVersion = tls.VersionTLS12
	d := &tls.Dialer{NetDialer: &net.Dialer{Timeout: 2 * time.Second}, Config: cfg}
	if c, err := d.Dial("tcp", tlsA.String()); err == nil {
		_ = c.Close()
		t.Fatal("TLS 1.2 handshake succeeded; only TLS 1.3 is offered")
	}
	c, err := tls.DialWithDialer(&net.Dialer{Timeout: 2 * time.Second}, "tcp", tlsA.String(), ts.clientTLS)
	if err != nil {
		t.Fatalf("TLS 1.3 handshake: %v", err)
	}
	defer c.Close()
	if v := c.ConnectionState().Version; v != tls.VersionTLS13 {
		t.Fatalf("negotiated %x, want TLS 1.3", v)
	}
}
