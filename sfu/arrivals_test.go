package sfu

import (
	"errors"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/pion/rtcp"
	"github.com/pion/rtp"
	"github.com/pion/stun/v4"
)

func rtpWith(t *testing.T, exts map[uint8][]byte, twoByte bool) []byte {
	t.Helper()
	h := rtp.Header{Version: 2, PayloadType: 96, SequenceNumber: 7, SSRC: 0xabcdef01}
	if twoByte {
		h.Extension, h.ExtensionProfile = true, 0x1000
	}
	for id, v := range exts {
		if err := h.SetExtension(id, v); err != nil {
			t.Fatal(err)
		}
	}
	b, err := (&rtp.Packet{Header: h, Payload: []byte{1, 2, 3}}).Marshal()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestTransportSeqExt(t *testing.T) {
	seq := []byte{0x12, 0x34}
	tests := []struct {
		name string
		b    []byte
		id   uint8
		want []byte
	}{
		{"one-byte", rtpWith(t, map[uint8][]byte{3: seq}, false), 3, seq},
		{"one-byte among others", rtpWith(t, map[uint8][]byte{1: {9}, 3: seq, 5: {1, 2, 3, 4}}, false), 3, seq},
		{"two-byte", rtpWith(t, map[uint8][]byte{3: seq, 20: make([]byte, 20)}, true), 3, seq},
		{"absent", rtpWith(t, map[uint8][]byte{1: {9}}, false), 3, nil},
		{"no extension", rtpWith(t, nil, false), 3, nil},
		{"id 0", rtpWith(t, map[uint8][]byte{3: seq}, false), 0, nil},
		{"truncated", rtpWith(t, map[uint8][]byte{3: seq}, false)[:14], 3, nil},
		{"short", []byte{0x90, 96}, 3, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := transportSeqExt(tt.b, tt.id)
			if string(got) != string(tt.want) {
				t.Errorf("got %x, want %x", got, tt.want)
			}
		})
	}
}

// bindingRequest is a browser's ICE connectivity check to the SFU
// connection whose credentials are ufrag and pwd.
func bindingRequest(t testing.TB, ufrag, pwd string, setters ...stun.Setter) []byte {
	t.Helper()
	m, err := stun.Build(append([]stun.Setter{stun.TransactionID, stun.BindingRequest,
		stun.NewUsername(ufrag + ":browser"), stun.NewShortTermIntegrity(pwd), stun.Fingerprint}, setters...)...)
	if err != nil {
		t.Fatal(err)
	}
	return m.Raw
}

func TestArrivalTableLearnsFromBindingRequests(t *testing.T) {
	const ufrag, pwd = "sfuUfrag", "sfu-password-of-22-chars"
	response, err := stun.Build(stun.TransactionID, stun.BindingSuccess, stun.NewUsername(ufrag+":browser"),
		stun.NewShortTermIntegrity(pwd), stun.Fingerprint)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name  string
		check []byte
		learn bool
	}{
		{"authentic request", bindingRequest(t, ufrag, pwd), true},
		{"wrong password", bindingRequest(t, ufrag, "another-password-of-22c"), false},
		{"another connection's ufrag", bindingRequest(t, "other", pwd), false},
		{"response, not request", response.Raw, false},
		{"truncated", bindingRequest(t, ufrag, pwd)[:30], false},
		{"RTP", rtpWith(t, map[uint8][]byte{3: {0, 1}}, false), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tab := newArrivalTable()
			f := newArrivalFeedback(1, func([]rtcp.Packet) {})
			tab.expect(ufrag, pwd, f)
			addr := netip.MustParseAddrPort("10.1.2.3:5000")
			tab.learn(tt.check, addr)
			if got := tab.byAddr[addr] == f; got != tt.learn {
				t.Fatalf("learnt %v, want %v", got, tt.learn)
			}
		})
	}
}

func TestArrivalTableFeedsLearntPublisher(t *testing.T) {
	const ufrag, pwd = "sfuUfrag", "sfu-password-of-22-chars"
	tab := newArrivalTable()
	sent := make(chan []rtcp.Packet, 4)
	f := newArrivalFeedback(1, func(p []rtcp.Packet) { sent <- p })
	f.extID.Store(3)
	tab.expect(ufrag, pwd, f)
	// The browser checks two pairs and sends media on the second: both
	// are learnt, whichever pair the ICE agent selected.
	checked := netip.MustParseAddrPort("10.1.2.3:5000")
	addr := netip.MustParseAddrPort("127.0.0.1:5002")
	tab.learn(bindingRequest(t, ufrag, pwd), checked)
	tab.learn(bindingRequest(t, ufrag, pwd), addr)
	now := time.Now().UnixNano()
	for i := range 5 {
		b := rtpWith(t, map[uint8][]byte{3: {0, byte(i)}}, false)
		tab.observe(b, netip.MustParseAddrPort("10.1.2.3:5001"), now) // never checked: ignored
		tab.observe(b, addr, now+int64(i)*int64(30*time.Millisecond))
	}
	tab.observe([]byte{0x80, 200, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0}, addr, now) // RTCP: ignored
	if f.sockAt.Load() == 0 {
		t.Fatal("the socket's packets were not taken")
	}
	f.record(rtpWith(t, map[uint8][]byte{3: {0, 9}}, false), now) // the reader's copy is not recorded twice
	select {
	case pkts := <-sent:
		cc, ok := pkts[0].(*rtcp.TransportLayerCC)
		if !ok || cc.BaseSequenceNumber != 0 || cc.PacketStatusCount != 5 {
			t.Fatalf("feedback %+v, want packets 0..4", pkts[0])
		}
	case <-time.After(time.Second):
		t.Fatal("no feedback after 120 ms of packets")
	}
	tab.forget(f)
	if len(tab.byAddr) != 0 || len(tab.byUfrag) != 0 {
		t.Error("forget left addresses or credentials")
	}
}

// A publisher that checks from ever more addresses (a long call across
// network changes) keeps the newest ones only; an ICE restart's new
// credentials replace the old.
func TestArrivalTableBounds(t *testing.T) {
	tab := newArrivalTable()
	f := newArrivalFeedback(1, func([]rtcp.Packet) {})
	tab.expect("u1", "password-one-of-22-chars", f)
	tab.expect("u2", "password-two-of-22-chars", f)
	if _, ok := tab.byUfrag["u1"]; ok || len(tab.byUfrag) != 1 {
		t.Fatalf("credentials %v, want u2 only", tab.byUfrag)
	}
	for i := range maxArrivalAddrs + 3 {
		tab.learn(bindingRequest(t, "u2", "password-two-of-22-chars"), netip.AddrPortFrom(netip.MustParseAddr("10.0.0.1"), uint16(1000+i)))
	}
	if len(tab.byAddr) != maxArrivalAddrs || len(f.addrs) != maxArrivalAddrs {
		t.Fatalf("%d addresses kept (%d in the feedback), want %d", len(tab.byAddr), len(f.addrs), maxArrivalAddrs)
	}
	if tab.byAddr[netip.MustParseAddrPort("10.0.0.1:1000")] != nil {
		t.Error("the oldest address was kept")
	}
	if tab.byAddr[netip.AddrPortFrom(netip.MustParseAddr("10.0.0.1"), uint16(1000+maxArrivalAddrs+2))] != f {
		t.Error("the newest address was not learnt")
	}
}

// The track readers record while the socket's reader does not: before it
// has seen the publisher, and a second after it last did (ICE-TCP).
func TestArrivalFeedbackReaderFallback(t *testing.T) {
	f := newArrivalFeedback(1, func([]rtcp.Packet) {})
	f.extID.Store(3)
	pkt := func(seq byte) []byte { return rtpWith(t, map[uint8][]byte{3: {0, seq}}, false) }
	now := time.Now().UnixNano()
	f.record(pkt(1), now)
	if f.rec.PacketsHeld() != 1 {
		t.Fatal("a reader's packet was not recorded before the socket saw any")
	}
	f.sockAt.Store(now)
	f.record(pkt(2), now+int64(10*time.Millisecond))
	if f.rec.PacketsHeld() != 1 {
		t.Fatal("a reader's packet was recorded while the socket times them")
	}
	f.sockAt.Store(now - socketLapse)
	f.record(pkt(3), now+int64(20*time.Millisecond))
	if f.rec.PacketsHeld() != 2 {
		t.Fatal("a reader's packet was not recorded after the socket stopped")
	}
}

func TestAnswerTransport(t *testing.T) {
	const answer = "v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\n" +
		"m=audio 9 UDP/TLS/RTP/SAVPF 111\r\nc=IN IP4 0.0.0.0\r\na=ice-ufrag:abcd\r\na=ice-pwd:secretsecretsecretsecret\r\n" +
		"a=extmap:1 urn:ietf:params:rtp-hdrext:ssrc-audio-level\r\n" +
		"a=extmap:5 http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01\r\na=rtpmap:111 opus/48000/2\r\n"
	ufrag, pwd, id, err := answerTransport(answer)
	if err != nil || ufrag != "abcd" || pwd != "secretsecretsecretsecret" || id != 5 {
		t.Fatalf("got %q %q %d %v", ufrag, pwd, id, err)
	}
	if _, _, _, err := answerTransport(strings.ReplaceAll(answer, "a=ice-pwd:secretsecretsecretsecret\r\n", "")); !errors.Is(err, ErrBadSDP) {
		t.Fatalf("answer without a password: %v, want ErrBadSDP", err)
	}
}

// The kernel stamps datagrams on a real socket, and the stamp is close to
// the time it was read.
func TestStampConnKernelTime(t *testing.T) {
	raw, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	c := &stampConn{raw: raw, arrivals: newArrivalTable(), oob: make([]byte, 128)}
	if err := enableRxTimestamps(raw); err != nil {
		t.Skipf("no receive timestamps: %v", err)
	}
	c.kernel = true
	tx, err := net.DialUDP("udp4", nil, raw.LocalAddr().(*net.UDPAddr))
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Close()
	before := time.Now().UnixNano()
	if _, err := tx.Write([]byte("hello")); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 64)
	n, oobn, _, _, err := raw.ReadMsgUDPAddrPort(buf, c.oob)
	if err != nil || string(buf[:n]) != "hello" {
		t.Fatalf("read %q: %v", buf[:n], err)
	}
	ts := rxTimestamp(c.oob[:oobn])
	if ts < before || ts > time.Now().UnixNano() {
		t.Fatalf("kernel time %d not between %d and now", ts, before)
	}
}

// BenchmarkArrivalObserve is the media socket reader's added cost per
// publisher packet: find the transport-wide sequence number and record
// its arrival (docs/benchmarks.md).
func BenchmarkArrivalObserve(b *testing.B) {
	tab := newArrivalTable()
	f := newArrivalFeedback(1, func([]rtcp.Packet) {})
	f.extID.Store(3)
	addr := netip.MustParseAddrPort("10.1.2.3:5000")
	tab.expect("u", "password-of-22-chars-xx", f)
	tab.learn(bindingRequest(b, "u", "password-of-22-chars-xx"), addr)
	h := rtp.Header{Version: 2, PayloadType: 96, SSRC: 0xabcdef01}
	_ = h.SetExtension(1, []byte{0x40}) // audio level, as browsers send beside it
	_ = h.SetExtension(3, []byte{0, 0})
	pkt, _ := (&rtp.Packet{Header: h, Payload: make([]byte, 1100)}).Marshal()
	seq := transportSeqExt(pkt, 3) // points into pkt
	now := time.Now().UnixNano()
	b.ReportAllocs()
	b.SetBytes(int64(len(pkt)))
	for i := 0; b.Loop(); i++ {
		seq[0], seq[1] = byte(i>>8), byte(i)
		tab.observe(pkt, addr, now+int64(i)*int64(time.Millisecond)) // feedback every 100 packets
	}
}

// An address a publisher checked from belongs to the last connection that
// checks from it authentically: after a network change a NAT may give a
// publisher's old address to another.
func TestArrivalTableAddressMovesToLastChecker(t *testing.T) {
	tab := newArrivalTable()
	a := newArrivalFeedback(1, func([]rtcp.Packet) {})
	b := newArrivalFeedback(2, func([]rtcp.Packet) {})
	tab.expect("ua", "password-a-of-22-chars-x", a)
	tab.expect("ub", "password-b-of-22-chars-x", b)
	addr := netip.MustParseAddrPort("192.0.2.7:40000")
	tab.learn(bindingRequest(t, "ua", "password-a-of-22-chars-x"), addr)
	tab.learn(bindingRequest(t, "ub", "password-b-of-22-chars-x"), addr)
	if tab.byAddr[addr] != b {
		t.Fatal("the address still feeds the publisher that checked from it first")
	}
	if len(a.addrs) != 0 || len(b.addrs) != 1 {
		t.Fatalf("addresses: first %v, last %v; want none and one", a.addrs, b.addrs)
	}
	tab.learn(bindingRequest(t, "ua", "wrong-password-of-22-ch"), addr) // not authentic: no move
	if tab.byAddr[addr] != b {
		t.Fatal("an unauthenticated check moved the address")
	}
}
