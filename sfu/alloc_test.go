package sfu

import (
	"github.com/monkeythorn/meet/internal/poll"
	"sync"
	"testing"
	"time"

	"github.com/pion/rtp"
)

// TestForwardNoAllocs forwards packets through a real DownTrack bound to a
// real subscriber connection (rewrite, transport-wide number, SRTP, socket)
// and asserts that the steady state allocates nothing per packet.
func TestForwardNoAllocs(t *testing.T) {
	s := newTestSFU(t)
	stop := make(chan struct{})
	a := joinClient(t, s, "allocs", 'a')
	b := joinClientWith(t, s, "allocs", 'b', clientAPI(t), transportCCAPI(t, false))
	a.publish(stop)
	poll.Until(t, 15*time.Second, "b to receive a's video", func() bool { return b.count(a.p.ID(), "video") > 5 })

	var d *DownTrack
	b.p.subMu.Lock()
	for up, dt := range b.p.downs {
		if up.kind.String() == "video" {
			d = dt
		}
	}
	b.p.subMu.Unlock()
	if d == nil {
		t.Fatal("no video DownTrack")
	}
	if w := d.writer.Load(); w == nil || w.tccID == 0 {
		t.Fatal("the subscriber's video is not numbered for transport-wide feedback")
	}
	// Stop the real publisher so the test owns d's numbering.
	close(stop)
	time.Sleep(100 * time.Millisecond)

	payload := make([]byte, 1100)
	payload[0] = 0x10
	h := rtp.Header{Version: 2, PayloadType: 96, SSRC: 1234, Marker: true}
	d.mu.Lock()
	layer := d.current
	esn, _ := d.munger.LastIn() // continue the numbering the subscriber has seen
	d.mu.Unlock()
	pkt := packet{header: &h, payload: payload, layer: layer}
	pkts := []*packet{&pkt}
	var wg sync.WaitGroup
	allocs := testing.AllocsPerRun(2000, func() {
		esn++
		h.SequenceNumber = uint16(esn)
		h.Timestamp += 3000
		pkt.esn, pkt.ets = esn, esn*3000
		s.fanout.forward(*d.up.downs.Load(), pkts, &wg) // the reader's path: rewrite, SRTP into the batch, sendmmsg
	})
	t.Logf("allocations per forwarded packet: %.2f", allocs)
	// The packets must really have gone out: b counts payloads without
	// a's marker as foreign. A burst of 2000 overflows the loopback socket's
	// buffer, so only some arrive.
	poll.Until(t, 5*time.Second, "b to receive the test packets", func() bool { return b.bad.Load() > 50 })
	t.Logf("b received %d of the test packets", b.bad.Load())
	// They went the fast path: sealed into a send batch, not through Pion.
	if st := s.sock.Stats(); st.Datagrams < 2000 {
		t.Fatalf("the fast path sent %d datagrams of 2000 (%+v)", st.Datagrams, st)
	}
	if allocs != 0 && !raceEnabled {
		t.Fatalf("forwarding allocates %.2f times per packet, want 0", allocs)
	}
}
