package sfu

import (
	"bytes"
	"fmt"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/monkeythorn/meet/internal/poll"
	"github.com/monkeythorn/meet/sfu/rtpmunger"
	"github.com/monkeythorn/meet/sfu/srtpout"
	"github.com/pion/rtp"
	"github.com/pion/srtp/v3"
	"github.com/pion/webrtc/v4"
)

// TestStalePacketNotResealed: a publisher chooses its sequence numbers. A
// packet whose outgoing number went out already (a duplicate with other
// bytes) or that is too old to tell (more than the history behind, as a
// jump of half the sequence space is taken to be) must not be sent: it would
// be sealed under an SRTP index used before. A late packet that fills a
// gap still goes out. The old code sent the duplicate and the old one.
func TestStalePacketNotResealed(t *testing.T) {
	pool, up, writers := fakeFanout(t, 1)
	d, w := (*up.downs.Load())[0], writers[0]
	var wg sync.WaitGroup
	unwrap := rtpmunger.NewSeqUnwrapper() // as the track's reader does
	send := func(seq uint16, padding bool) {
		h := rtp.Header{Version: 2, PayloadType: 96, SequenceNumber: seq, Timestamp: uint32(seq) * 3000}
		payload := []byte{0x10, byte(seq)}
		if padding {
			payload = nil // padding only: taken out of the numbering
		}
		p := packet{header: &h, payload: payload, esn: unwrap.Unwrap(uint32(seq)), ets: uint64(seq) * 3000, keyframe: true, now: time.Now().UnixNano()}
		pool.forward([]*DownTrack{d}, []*packet{&p}, &wg)
	}
	tests := []struct {
		name    string
		seq     uint16
		padding bool
		sent    int64 // packets out so far
		stale   uint64
	}{
		{"first", 1000, false, 1, 0},
		{"next", 1001, false, 2, 0},
		{"one after a gap", 1003, false, 3, 0},
		{"the gap filled late", 1002, false, 4, 0},
		{"a duplicate with other bytes", 1001, false, 4, 1},
		{"a jump ahead", 3000, false, 5, 1},
		{"a packet from the jump's gap, over the history behind", 1500, false, 5, 2},
		{"one from the gap within the history", 2500, false, 6, 2},
		{"next again", 3001, false, 7, 2},
		{"padding only after a gap (out of the numbering, the gap too)", 3003, true, 7, 2},
		{"next after the padding", 3004, false, 8, 2},
		{"the gap's packet late: numbered as 3000 was", 3002, false, 8, 3},
	}
	for _, tt := range tests {
		send(tt.seq, tt.padding)
		d.mu.Lock()
		stale := d.stats.drops[DropStale]
		d.mu.Unlock()
		if w.n.Load() != tt.sent || stale != tt.stale {
			t.Fatalf("%s (seq %d): %d sent, %d stale; want %d and %d", tt.name, tt.seq, w.n.Load(), stale, tt.sent, tt.stale)
		}
	}
}

// TestHostilePublisherCannotReuseIndex: a publisher that repeats sequence
// numbers with other payloads, or leaves a gap, sends padding only after
// it and then the gap's packet, must not get the SFU to send a subscriber
// two different packets under one sequence number on one SSRC: the same
// SRTP index, so the same AES-GCM nonce, for two plaintexts. Repeats are
// stopped by the SRTP replay check; the late packet was numbered as the
// one before the gap until the SFU checked its history. Real SFU, real
// Pion publisher and subscriber on loopback.
func TestHostilePublisherCannotReuseIndex(t *testing.T) {
	s := newTestSFU(t)
	red := redAPI(t)
	pub := joinClientWith(t, s, "room", 'a', red, red)
	// The subscriber keeps what its SRTP replay check would drop: a
	// second packet under one index is what an observer on the wire sees.
	wire := newClientAPI(t, nil, func(se *webrtc.SettingEngine) { se.DisableSRTPReplayProtection(true) })
	sub := joinClientWith(t, s, "room", 'b', wire, wire)
	type seen struct {
		mu      sync.Mutex
		payload map[uint16][]byte
		reused  []uint16
		n       int
	}
	var got seen
	got.payload = map[uint16][]byte{}
	sub.sub.OnTrack(func(tr *webrtc.TrackRemote, _ *webrtc.RTPReceiver) {
		readRTP(tr, func(p *rtp.Packet) {
			if p == nil {
				return
			}
			got.mu.Lock()
			if prev, ok := got.payload[p.SequenceNumber]; ok && !bytes.Equal(prev, p.Payload) {
				got.reused = append(got.reused, p.SequenceNumber)
			}
			got.payload[p.SequenceNumber] = bytes.Clone(p.Payload)
			got.n++
			got.mu.Unlock()
		})
	})
	track := &rawTrack{}
	pub.publishMicrophone(t, track)

	count := func() int {
		got.mu.Lock()
		defer got.mu.Unlock()
		return got.n
	}
	write := func(seq uint16, payload string) {
		if err := track.write(rtp.Header{Version: 2, PayloadType: 111, SequenceNumber: seq, Timestamp: uint32(seq) * 960}, []byte(payload)); err != nil {
			t.Fatal(err)
		}
		time.Sleep(5 * time.Millisecond)
	}
	// Until the subscriber hears the track, then a run, then the attack:
	// each of the last ten numbers again with other bytes, then on.
	seq := uint16(100)
	poll.Until(t, 15*time.Second, "the subscriber to receive the track", func() bool {
		seq++
		write(seq, fmt.Sprintf("\x78opus-%d", seq))
		return count() > 5
	})
	for range 20 {
		seq++
		write(seq, fmt.Sprintf("\x78opus-%d", seq))
	}
	for back := uint16(10); back > 0; back-- { // repeats: Pion's SRTP replay check stops these
		write(seq-back, fmt.Sprintf("\x78evil-%d", seq-back))
	}
	// A gap, a padding-only packet after it (the SFU takes both out of
	// the numbering), then the gap's packet late: numbered as the packet
	// before the gap was.
	for range 5 {
		seq += 3
		padding := []byte{0, 0, 0, 4}
		if err := track.write(rtp.Header{Version: 2, Padding: true, PayloadType: 111, SequenceNumber: seq - 1, Timestamp: uint32(seq-1) * 960}, padding); err != nil {
			t.Fatal(err)
		}
		write(seq, fmt.Sprintf("\x78opus-%d", seq))
		write(seq-2, fmt.Sprintf("\x78evil-%d", seq-2))
	}
	for range 10 {
		seq++
		write(seq, fmt.Sprintf("\x78opus-%d", seq))
	}
	last := []byte(fmt.Sprintf("\x78opus-%d", seq))
	poll.Until(t, 5*time.Second, "the last packet", func() bool {
		got.mu.Lock()
		defer got.mu.Unlock()
		for _, p := range got.payload {
			if bytes.Equal(p, last) {
				return true
			}
		}
		return false
	})
	got.mu.Lock()
	defer got.mu.Unlock()
	if len(got.reused) > 0 {
		t.Fatalf("the subscriber got %d sequence numbers twice with different payloads (%v): one SRTP index sealed two plaintexts", len(got.reused), got.reused)
	}
	if st := s.Stats(); st.Drops[DropStale] < 5 {
		t.Errorf("%d packets dropped as stale, want the 5 late ones", st.Drops[DropStale])
	}
}

// TestPathlessKeepsNumbering: while a sealing DownTrack has no path (ICE
// moved off the UDP socket), its packets are dropped without being
// numbered; otherwise an outage of some 30 s would leave a gap of half
// the sequence space, which the rollover counter's guess takes for old
// packets (an SRTP index met again). The old code numbered them.
func TestPathlessKeepsNumbering(t *testing.T) {
	pool, up, _ := fakeFanout(t, 1)
	d := (*up.downs.Load())[0]
	sink, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer sink.Close()
	dst := sink.LocalAddr().(*net.UDPAddr).AddrPort()
	sealOn(t, d, &path{udp: dst})

	var wg sync.WaitGroup
	unwrap := rtpmunger.NewSeqUnwrapper()
	esn := uint16(1000)
	send := func(n int) {
		for range n {
			h := rtp.Header{Version: 2, PayloadType: 96, SequenceNumber: esn, Timestamp: uint32(esn) * 3000, Marker: true}
			p := packet{header: &h, payload: []byte{0x10, 1}, esn: unwrap.Unwrap(uint32(esn)), ets: uint64(esn) * 3000, keyframe: true, now: time.Now().UnixNano()}
			pool.forward([]*DownTrack{d}, []*packet{&p}, &wg)
			esn++
		}
	}
	lastOut := func() (uint64, uint64, uint64) {
		d.mu.Lock()
		defer d.mu.Unlock()
		out, _ := d.munger.LastOut()
		return out, d.stats.packets, d.stats.drops[DropWriteError]
	}
	send(3)
	before, sent, _ := lastOut()
	if sent != 3 {
		t.Fatalf("%d packets sealed with a path, want 3", sent)
	}
	d.egress.path.Store(nil)
	send(40000)
	during, _, dropped := lastOut()
	d.egress.path.Store(&path{udp: dst})
	send(1)
	after, sent, _ := lastOut()
	if dropped != 40000 || during != before || after != before+1 || sent != 4 {
		t.Fatalf("numbering %d before, %d after 40000 packets without a path (%d dropped), %d after it came back (%d sent); want it to move by 1, 4 sent",
			before, during, dropped, after, sent)
	}
}

// sealOn makes d seal its packets itself (zero AES-GCM keys) on p, as it
// does once its connection's keys and ICE pair are known (egress.go).
func sealOn(t *testing.T, d *DownTrack, p *path) {
	t.Helper()
	seal, err := srtpout.NewSealer(srtpout.Keys{Profile: srtp.ProtectionProfileAeadAes128Gcm, Key: make([]byte, 16), Salt: make([]byte, 12)})
	if err != nil {
		t.Fatal(err)
	}
	d.mu.Lock()
	d.seal, d.egress = seal, &egress{}
	d.mu.Unlock()
	d.egress.path.Store(p)
}
