package sfu

import (
	"bytes"
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/monkeythorn/meet/internal/pionlog"
	"github.com/monkeythorn/meet/internal/poll"
	"github.com/monkeythorn/meet/sfu/rtpmunger"
	"github.com/pion/ice/v4"
	"github.com/pion/rtp"
	"github.com/pion/stun/v4"
	"github.com/pion/transport/v5"
	"github.com/pion/transport/v5/stdnet"
	"github.com/pion/webrtc/v4"
)

// cutNet is a client's network whose UDP sockets go deaf and mute when
// cut is set, as when a laptop joins a network that blocks UDP.
type cutNet struct {
	*stdnet.Net
	cut *atomic.Bool
}

func (n cutNet) ListenUDP(network string, laddr *net.UDPAddr) (transport.UDPConn, error) {
	c, err := net.ListenUDP(network, laddr)
	if err != nil {
		return nil, err
	}
	return &cutConn{UDPConn: c, cut: n.cut}, nil
}

// cutConn drops what it reads and writes while cut. ICE reads through
// ReadFromAddrPort or ReadFrom and writes through WriteToAddrPort or
// WriteTo.
type cutConn struct {
	*net.UDPConn
	cut *atomic.Bool
}

func (c *cutConn) ReadFromAddrPort(b []byte) (int, netip.AddrPort, error) {
	for {
		n, from, err := c.UDPConn.ReadFromUDPAddrPort(b)
		if err != nil || !c.cut.Load() {
			return n, from, err
		}
	}
}

func (c *cutConn) ReadFrom(b []byte) (int, net.Addr, error) {
	n, from, err := c.ReadFromAddrPort(b)
	if err != nil {
		return n, nil, err
	}
	return n, net.UDPAddrFromAddrPort(from), nil
}

func (c *cutConn) WriteToAddrPort(b []byte, to netip.AddrPort) (int, error) {
	if c.cut.Load() {
		return len(b), nil
	}
	return c.UDPConn.WriteToUDPAddrPort(b, to)
}

func (c *cutConn) WriteTo(b []byte, to net.Addr) (int, error) {
	if c.cut.Load() {
		return len(b), nil
	}
	return c.UDPConn.WriteTo(b, to)
}

// selectedProtocol is the protocol of pc's selected ICE pair, "" for none.
func selectedProtocol(pc *webrtc.PeerConnection) webrtc.ICEProtocol {
	pair, err := pc.SCTP().Transport().ICETransport().GetSelectedCandidatePair()
	if err != nil || pair == nil || pair.Local == nil {
		return webrtc.ICEProtocolUnknown
	}
	return pair.Local.Protocol
}

// TestSealedTrackMovesToTCP: a subscriber whose media the SFU seals
// itself on the UDP socket (the fast path, egress.go) loses UDP and comes
// back over ICE-TCP after an ICE restart; its media follows it, sealed by
// the same Sealer and written to the TCP connection. Before, a DownTrack
// that had sealed dropped every packet while ICE was on TCP: the
// subscriber saw nothing until UDP came back. A subscriber on ICE-TCP
// from the start is sealed as well.
func TestSealedTrackMovesToTCP(t *testing.T) {
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	s, err := New(Config{ListenIP: "127.0.0.1", IncludeLoopback: true, TCPPort: port})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	stop := make(chan struct{})
	defer close(stop)

	var cut atomic.Bool
	subAPI := newClientAPI(t, nil, func(se *webrtc.SettingEngine) {
		se.SetNetworkTypes([]webrtc.NetworkType{webrtc.NetworkTypeUDP4, webrtc.NetworkTypeTCP4})
		se.SetICEMulticastDNSMode(ice.MulticastDNSModeDisabled)
		n, err := stdnet.NewNet()
		if err != nil {
			t.Fatal(err)
		}
		se.SetNet(cutNet{Net: n, cut: &cut})
	})
	a := joinClient(t, s, "tcp-move", 'a')
	// settleICE: Pion's client, answering two offers in quick succession,
	// now and then runs an agent whose credentials are not its answer's.
	b := joinClientWith(t, s, "tcp-move", 'b', clientAPI(t), subAPI, func(c *testClient) { c.settleICE = true })
	a.publish(stop)
	poll.Until(t, 15*time.Second, "b to receive a's video", func() bool { return b.count(a.p.ID(), "video") > 20 })
	if p := selectedProtocol(b.sub); p != webrtc.ICEProtocolUDP {
		t.Fatalf("b's first pair is %v, want UDP (the test needs a sealed start on the UDP socket)", p)
	}
	sealed := func(c *testClient) bool {
		c.p.subMu.Lock()
		defer c.p.subMu.Unlock()
		for _, d := range c.p.downs {
			d.mu.Lock()
			on := d.seal != nil
			d.mu.Unlock()
			if on {
				return true
			}
		}
		return false
	}
	if !sealed(b) {
		t.Fatal("no DownTrack of b sealed its packets on UDP")
	}
	// The SFU offers ICE-TCP on the listener's address only: the view of
	// the mux each connection gets must say where it listens, or ICE
	// offers every address of the host.
	for _, st := range b.p.sub.GetStats() {
		if c, ok := st.(webrtc.ICECandidateStats); ok && c.Type == webrtc.StatsTypeLocalCandidate && c.Protocol == "tcp" && c.IP != "127.0.0.1" {
			t.Errorf("the SFU offers an ICE-TCP candidate on %s, not on its listener's 127.0.0.1", c.IP)
		}
	}

	cut.Store(true)
	b.p.RestartICE()
	poll.Until(t, 30*time.Second, "b's ICE to move to TCP", func() bool { return selectedProtocol(b.sub) == webrtc.ICEProtocolTCP })
	base := b.count(a.p.ID(), "video")
	poll.Until(t, 15*time.Second, "b to receive a's video over TCP", func() bool { return b.count(a.p.ID(), "video") > base+20 })
	if p := b.p.egress.path.Load(); p == nil || p.tcp == nil {
		t.Error("the fast path has no TCP path after the move")
	}

	// A subscriber on ICE-TCP from the start is sealed from the start too,
	// so a later move to UDP keeps one Sealer and one rollover counter.
	tcpOnly := newClientAPI(t, nil, func(se *webrtc.SettingEngine) {
		se.SetNetworkTypes([]webrtc.NetworkType{webrtc.NetworkTypeTCP4})
	})
	c := joinClientWith(t, s, "tcp-move", 'c', clientAPI(t), tcpOnly, func(c *testClient) { c.settleICE = true })
	poll.Until(t, 15*time.Second, "c to receive a's video over TCP", func() bool { return c.count(a.p.ID(), "video") > 20 })
	if !sealed(c) || c.p.egress.path.Load() == nil || c.p.egress.path.Load().tcp == nil {
		t.Error("c's media on ICE-TCP went through Pion, not the Sealer")
	}
}

// addrConn is a mux connection that only knows its local address.
type addrConn struct {
	net.PacketConn
	local *net.TCPAddr
}

func (c addrConn) LocalAddr() net.Addr { return c.local }

// TestPathOf: where a pair's sealed packets go, for the pairs ICE selects.
func TestPathOf(t *testing.T) {
	v4 := addrConn{local: &net.TCPAddr{IP: net.ParseIP("10.0.0.5"), Port: 7881}}
	v6 := addrConn{local: &net.TCPAddr{IP: net.ParseIP("fe80::1"), Port: 7881}}
	e := &egress{conns: []muxConn{{"u", v6}, {"u", v4}}}
	cand := func(proto webrtc.ICEProtocol, addr string, port uint16) *webrtc.ICECandidate {
		return &webrtc.ICECandidate{Protocol: proto, Address: addr, Port: port}
	}
	tests := []struct {
		name      string
		pair      *webrtc.ICECandidatePair
		udp       string         // want a UDP path to this address
		conn      net.PacketConn // want a TCP path on this connection
		tcpRemote string
	}{
		{"none", nil, "", nil, ""},
		{"udp", &webrtc.ICECandidatePair{Local: cand(webrtc.ICEProtocolUDP, "10.0.0.5", 50000), Remote: cand(webrtc.ICEProtocolUDP, "::ffff:198.51.100.7", 6000)}, "198.51.100.7:6000", nil, ""},
		{"tcp on the listener's address", &webrtc.ICECandidatePair{Local: cand(webrtc.ICEProtocolTCP, "10.0.0.5", 7881), Remote: cand(webrtc.ICEProtocolTCP, "198.51.100.7", 41000)}, "", v4, "198.51.100.7:41000"},
		// Config.PublicIP: the candidate carries the public address.
		{"tcp behind a public address", &webrtc.ICECandidatePair{Local: cand(webrtc.ICEProtocolTCP, "203.0.113.9", 7881), Remote: cand(webrtc.ICEProtocolTCP, "198.51.100.7", 41000)}, "", v4, "198.51.100.7:41000"},
		{"tcp link-local with a zone", &webrtc.ICECandidatePair{Local: cand(webrtc.ICEProtocolTCP, "fe80::1%eth0", 7881), Remote: cand(webrtc.ICEProtocolTCP, "fe80::2%eth0", 41000)}, "", v6, "[fe80::2]:41000"},
		{"bad remote address", &webrtc.ICECandidatePair{Local: cand(webrtc.ICEProtocolUDP, "10.0.0.5", 50000), Remote: cand(webrtc.ICEProtocolUDP, "example.org", 6000)}, "", nil, ""},
	}
	for _, tt := range tests {
		p := e.pathOf(tt.pair)
		switch {
		case tt.udp == "" && tt.conn == nil:
			if p != nil {
				t.Errorf("%s: path %+v, want none", tt.name, p)
			}
		case tt.udp != "":
			if p == nil || p.tcp != nil || p.udp.String() != tt.udp {
				t.Errorf("%s: path %+v, want UDP to %s", tt.name, p, tt.udp)
			}
		default:
			if p == nil || p.tcp == nil || p.tcp.conn != tt.conn || p.tcp.to.String() != tt.tcpRemote {
				t.Errorf("%s: path %+v, want TCP on %v to %s", tt.name, p, tt.conn.LocalAddr(), tt.tcpRemote)
			}
		}
	}
	if p := (&egress{}).pathOf(&webrtc.ICECandidatePair{Local: cand(webrtc.ICEProtocolTCP, "10.0.0.5", 7881), Remote: cand(webrtc.ICEProtocolTCP, "198.51.100.7", 41000)}); p != nil {
		t.Errorf("TCP pair without a mux connection: path %+v, want none", p)
	}
}

// TestTCPSubscriberThatStopsReading: a subscriber on ICE-TCP that stops
// reading its connection fills what the SFU buffers for it; the fan-out
// must not wait for it, or every other subscriber of the track would
// stall. The ICE-TCP mux is made as the SFU makes it (1 MB of buffer for
// each connection, then drops); the attacker is a raw TCP client that
// sends the ICE check the mux keys the connection on, then never reads. A
// sealing DownTrack writes to it beside one on UDP: 20,000 packets of 1,100
// bytes (22 MB) go through the fan-out in a bounded time, the UDP
// subscriber's every one, the TCP one's past the buffers dropped as write
// errors. (With a mux that does not buffer, the fan-out stalls here.)
func TestTCPSubscriberThatStopsReading(t *testing.T) {
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	mux := newTCPMux(pionlog.Factory{Log: slog.New(slog.DiscardHandler)}.NewLogger("tcpmux"), ln)
	defer mux.Close()
	const ufrag = "victimufrag"
	conn, err := mux.GetConnByUfrag(ufrag, false, net.IPv4(127, 0, 0, 1))
	if err != nil {
		t.Fatal(err)
	}
	attacker, err := net.DialTCP("tcp4", nil, ln.Addr().(*net.TCPAddr))
	if err != nil {
		t.Fatal(err)
	}
	defer attacker.Close()
	_ = attacker.SetReadBuffer(4096)
	check, err := stun.Build(stun.TransactionID, stun.BindingRequest, stun.NewUsername(ufrag+":attacker"), stun.Fingerprint)
	if err != nil {
		t.Fatal(err)
	}
	framed := append([]byte{byte(len(check.Raw) >> 8), byte(len(check.Raw))}, check.Raw...) // RFC 4571
	if _, err := attacker.Write(framed); err != nil {
		t.Fatal(err)
	}
	to := attacker.LocalAddr()
	poll.Until(t, 5*time.Second, "the mux to take the attacker's connection", func() bool {
		_, err := conn.WriteTo([]byte{0}, to)
		return err == nil
	})

	pool, up, _ := fakeFanout(t, 2)
	downs := *up.downs.Load()
	sink, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer sink.Close()
	paths := []*path{{tcp: &tcpPath{conn: conn, to: to}}, {udp: sink.LocalAddr().(*net.UDPAddr).AddrPort()}}
	for i, d := range downs {
		sealOn(t, d, paths[i])
	}

	const n = 20000
	done := make(chan struct{})
	go func() {
		defer close(done)
		var wg sync.WaitGroup
		unwrap := rtpmunger.NewSeqUnwrapper()
		payload := append([]byte{0x10}, bytes.Repeat([]byte{7}, 1099)...)
		for i := range n {
			seq := uint16(i)
			h := rtp.Header{Version: 2, PayloadType: 96, SequenceNumber: seq, Timestamp: uint32(i) * 3000, Marker: true}
			p := packet{header: &h, payload: payload, esn: unwrap.Unwrap(uint32(seq)), ets: uint64(i) * 3000, keyframe: true, now: time.Now().UnixNano()}
			pool.forward(downs, []*packet{&p}, &wg)
			wg.Wait()
		}
	}()
	select {
	case <-done:
	case <-time.After(60 * time.Second):
		t.Fatal("the fan-out stalled behind a subscriber that does not read its TCP connection")
	}
	stats := func(d *DownTrack) (sent, writeErrors uint64) {
		d.mu.Lock()
		defer d.mu.Unlock()
		return d.stats.packets, d.stats.drops[DropWriteError]
	}
	tcpSent, tcpDropped := stats(downs[0])
	udpSent, _ := stats(downs[1])
	if udpSent != n {
		t.Errorf("the UDP subscriber got %d of %d packets", udpSent, n)
	}
	if tcpDropped == 0 || tcpSent+tcpDropped != n {
		t.Errorf("the TCP subscriber: %d sent, %d dropped of %d; want the excess dropped, not queued", tcpSent, tcpDropped, n)
	}
	t.Logf("TCP subscriber that does not read: %d packets buffered or sent, %d dropped", tcpSent, tcpDropped)
}
