package turnserver

import (
	"crypto/tls"
	"log/slog"
	"net"
	"net/netip"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pion/turn/v5"

	"github.com/monkeythorn/meet/auth"
	"github.com/monkeythorn/meet/internal/pionlog"
	"github.com/monkeythorn/meet/internal/testcert"
)

var testSecret = []byte("turn-test-secret-0123456789abcdef")

// udpPeer is a UDP socket on loopback standing in for the SFU (or for a host
// the relay must not reach).
func udpPeer(t *testing.T, ip string) *net.UDPConn {
	t.Helper()
	c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.ParseIP(ip)})
	if err != nil {
		t.Fatalf("peer socket on %s: %v", ip, err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

func addrPort(t *testing.T, a net.Addr) netip.AddrPort {
	t.Helper()
	ap, err := netip.ParseAddrPort(a.String())
	if err != nil {
		t.Fatal(err)
	}
	return ap
}

// selfSignedTLS returns a server config for 127.0.0.1 and a client config
// that trusts it.
func selfSignedTLS(t *testing.T) (server, client *tls.Config) {
	t.Helper()
	cert, pool := testcert.Loopback(t, 1)
	server = &tls.Config{Certificates: []tls.Certificate{cert}}
	client = &tls.Config{RootCAs: pool, ServerName: "127.0.0.1"}
	return server, client
}

type testServer struct {
	*Server
	allocs    atomic.Int64
	clientTLS *tls.Config
}

// startServer runs a server on all three transports on loopback, allowing
// only the given peers. edit may change the config before New.
func startServer(t *testing.T, allowed []netip.AddrPort, edit func(*Config)) *testServer {
	t.Helper()
	srvTLS, cliTLS := selfSignedTLS(t)
	ts := &testServer{clientTLS: cliTLS}
	cfg := Config{
		Secret:       testSecret,
		UDPAddr:      "127.0.0.1:0",
		TCPAddr:      "127.0.0.1:0",
		TLSAddr:      "127.0.0.1:0",
		TLSConfig:    srvTLS,
		RelayIP:      net.IPv4(127, 0, 0, 1),
		AllowedPeers: AllowList(allowed...),
		Logger:       slog.New(slog.DiscardHandler),
		OnAllocation: func(d int) { ts.allocs.Add(int64(d)) },
	}
	if edit != nil {
		edit(&cfg)
	}
	s, err := New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	ts.Server = s
	t.Cleanup(func() { _ = s.Close() })
	return ts
}

// dialClient connects a pion TURN client over transport ("udp", "tcp" or
// "tls") and starts its read loop. Cleanup closes it.
func (ts *testServer) dialClient(t *testing.T, transport, user, pass string) *turn.Client {
	t.Helper()
	udpA, tcpA, tlsA := ts.Addrs()
	var conn net.PacketConn
	var server net.Addr
	switch transport {
	case "udp":
		c, err := net.ListenPacket("udp4", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		conn, server = c, udpA
	case "tcp":
		c, err := net.DialTimeout("tcp", tcpA.String(), 2*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		conn, server = turn.NewSTUNConn(c), tcpA
	case "tls":
		d := &tls.Dialer{NetDialer: &net.Dialer{Timeout: 2 * time.Second}, Config: ts.clientTLS}
		c, err := d.Dial("tcp", tlsA.String())
		if err != nil {
			t.Fatal(err)
		}
		conn, server = turn.NewSTUNConn(c), tlsA
	default:
		t.Fatalf("unknown transport %q", transport)
	}
	cl, err := turn.NewClient(&turn.ClientConfig{
		TURNServerAddr: server.String(),
		Conn:           conn,
		Username:       user,
		Password:       pass,
		RTO:            100 * time.Millisecond,
		LoggerFactory:  pionlog.Factory{Log: slog.New(slog.DiscardHandler)},
	})
	if err != nil {
		_ = conn.Close()
		t.Fatal(err)
	}
	if err := cl.Listen(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cl.Close()
		_ = conn.Close()
	})
	return cl
}

// allocate allocates a relay, closing it in cleanup.
func allocate(t *testing.T, cl *turn.Client) net.PacketConn {
	t.Helper()
	relay, err := cl.Allocate()
	if err != nil {
		t.Fatalf("Allocate: %v", err)
	}
	t.Cleanup(func() { _ = relay.Close() })
	return relay
}

func creds(id string) (string, string) {
	return auth.TURNCredentials(testSecret, id, time.Minute, time.Now())
}

// readWithin reads one datagram or fails after d.
func readWithin(t *testing.T, c net.PacketConn, d time.Duration) (string, net.Addr) {
	t.Helper()
	buf := make([]byte, 1500)
	if err := c.SetReadDeadline(time.Now().Add(d)); err != nil {
		t.Fatal(err)
	}
	n, from, err := c.ReadFrom(buf)
	if err != nil {
		t.Fatalf("reading on %s: %v", c.LocalAddr(), err)
	}
	return string(buf[:n]), from
}

// expectSilence asserts nothing arrives on c within d.
func expectSilence(t *testing.T, c net.PacketConn, d time.Duration) {
	t.Helper()
	buf := make([]byte, 1500)
	if err := c.SetReadDeadline(time.Now().Add(d)); err != nil {
		t.Fatal(err)
	}
	n, from, err := c.ReadFrom(buf)
	if err == nil {
		t.Fatalf("%s received %q from %s; it must be unreachable", c.LocalAddr(), buf[:n], from)
	}
	if ne, ok := err.(net.Error); !ok || !ne.Timeout() {
		t.Fatalf("unexpected read error: %v", err)
	}
}

func sameUDPAddr(a, b net.Addr) bool {
	return strings.EqualFold(a.String(), b.String())
}
