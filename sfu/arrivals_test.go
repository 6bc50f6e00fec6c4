package sfu

import (
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/pion/rtcp"
	"github.com/pion/rtp"
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

func TestArrivalTableFeedsWatchedPublisher(t *testing.T) {
	tab := newArrivalTable()
	sent := make(chan []rtcp.Packet, 4)
	f := newArrivalFeedback(1, func(p []rtcp.Packet) { sent <- p })
	f.extID.Store(3)
	addr := netip.MustParseAddrPort("10.1.2.3:5000")
	tab.watch(addr, f)
	now := time.Now().UnixNano()
	for i := range 5 {
		b := rtpWith(t, map[uint8][]byte{3: {0, byte(i)}}, false)
		tab.observe(b, netip.MustParseAddrPort("10.1.2.3:5001"), now) // another address: ignored
		tab.observe(b, addr, now+int64(i)*int64(30*time.Millisecond))
	}
	tab.observe([]byte{0x80, 200, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0}, addr, now) // RTCP: ignored
	if !f.atSocket.Load() {
		t.Fatal("the socket's packets were not taken")
	}
	f.record(0xabcdef01, []byte{0, 9}, now) // the reader's copy is not recorded twice
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
	if len(tab.byAddr) != 0 {
		t.Error("forget left addresses")
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
	tab.watch(addr, f)
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
