package sfu

import (
	"fmt"
	"log/slog"
	"net"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/monkeythorn/meet/sfu/packetcache"
	"github.com/monkeythorn/meet/sfu/rtpcodec"
	"github.com/monkeythorn/meet/sfu/rtxbudget"
	"github.com/monkeythorn/meet/sfu/udpbatch"
	"github.com/pion/rtcp"
	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"
)

// countingWriter stands in for Pion's write stream of one subscriber.
type countingWriter struct {
	n       atomic.Int64
	lastSeq atomic.Uint32
	bad     atomic.Int64
}

func (w *countingWriter) WriteRTP(h *rtp.Header, payload []byte) (int, error) {
	if prev := w.lastSeq.Swap(uint32(h.SequenceNumber)); w.n.Load() > 0 && uint16(prev+1) != h.SequenceNumber {
		w.bad.Add(1)
	}
	w.n.Add(1)
	return len(payload), nil
}

func (w *countingWriter) Write(b []byte) (int, error) { return len(b), nil }

// fakeFanout builds an UpTrack with n bound DownTracks writing to
// counters: no room, SFU or peer connection, only the collaborators.
// Events the UpTrack tells its publisher wait in up's returned channel.
func fakeFanout(t testing.TB, n int) (*fanoutPool, *UpTrack, []*countingWriter) {
	pool, up, writers, _ := fakeTracks(t, n)
	return pool, up, writers
}

func fakeTracks(t testing.TB, n int) (*fanoutPool, *UpTrack, []*countingWriter, chan Event) {
	conn, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	batch := udpbatch.New(conn, 0)
	sock, err := udpbatch.NewSocket(conn)
	if err != nil {
		t.Fatal(err)
	}
	batches := newBatchPool(sock, 2)
	pool := newFanoutPool(batch, batches)
	t.Cleanup(func() { pool.close(); conn.Close() })
	log := slog.New(slog.DiscardHandler)
	events := make(chan Event, 16)
	up := &UpTrack{
		upLinks: upLinks{
			fanout:      pool,
			toPublisher: func([]rtcp.Packet) error { return nil }, // key frame requests go nowhere
			tell:        func(e Event) { events <- e },
			log:         log,
		},
		info: TrackInfo{ID: "pub-0", Participant: "pub"},
		kind: webrtc.RTPCodecTypeVideo, codec: rtpcodec.VP8,
	}
	up.downs.Store(&[]*DownTrack{})
	up.layers[0] = &upLayer{cache: packetcache.New(64)}
	var writers []*countingWriter
	for i := range n {
		// Each subscriber numbers its packets for transport-wide
		// feedback, as browsers negotiate.
		d := newDownTrack(up, downLinks{batch: batch, keyframes: up, tcc: newTransportCC(time.Now()), log: log})
		w := &countingWriter{}
		d.writer.Store(&trackWriter{w: w, ssrc: uint32(i + 1), pt: 96, tccID: 3})
		up.addDown(d)
		writers = append(writers, w)
	}
	return pool, up, writers, events
}

func TestParallelFanout(t *testing.T) {
	for _, subs := range []int{1, parallelFanout - 1, parallelFanout, 3 * parallelFanout} {
		t.Run(fmt.Sprint(subs), func(t *testing.T) {
			pool, up, writers := fakeFanout(t, subs)
			h := rtp.Header{Version: 2, PayloadType: 96}
			payload := []byte{0x10, 0x00, 0x00, 0x9d, 0x01, 0x2a} // VP8 key frame start
			var wg sync.WaitGroup
			const packets = 200
			for i := range packets {
				h.SequenceNumber = uint16(65500 + i) // wraps on the way
				p := packet{header: &h, payload: payload, esn: uint64(65536 + 65500 + i), ets: uint64(i * 3000), keyframe: true}
				pool.forward(*up.downs.Load(), []*packet{&p}, &wg)
			}
			for i, w := range writers {
				if w.n.Load() != packets || w.bad.Load() != 0 {
					t.Fatalf("subscriber %d got %d packets (%d out of sequence), want %d in sequence", i, w.n.Load(), w.bad.Load(), packets)
				}
			}
		})
	}
}

func TestParallelFanoutNoAllocs(t *testing.T) {
	pool, up, _ := fakeFanout(t, 2*parallelFanout)
	h := rtp.Header{Version: 2, PayloadType: 96}
	payload := make([]byte, 1100)
	payload[0] = 0x10
	var wg sync.WaitGroup
	esn := uint64(1 << 17)
	p := packet{header: &h, payload: payload, keyframe: true}
	pkts := []*packet{&p}
	allocs := testing.AllocsPerRun(500, func() {
		esn++
		p.esn, p.ets = esn, esn*3000
		pool.forward(*up.downs.Load(), pkts, &wg)
	})
	if allocs != 0 && !raceEnabled {
		t.Fatalf("parallel fan-out allocates %.2f per packet", allocs)
	}
}

// BenchmarkFanout measures forwarding one packet to n subscribers through
// the rewrite path, without Pion or the socket (see TestForwardNoAllocs and
// meet-bench for the whole path).
func BenchmarkFanout(b *testing.B) {
	for _, subs := range []int{1, 10, 100, 500} {
		b.Run(fmt.Sprintf("subscribers=%d", subs), func(b *testing.B) {
			pool, up, _ := fakeFanout(b, subs)
			h := rtp.Header{Version: 2, PayloadType: 96}
			payload := make([]byte, 1100)
			// A VP8 descriptor as Chrome sends it: picture id, TL0PICIDX,
			// temporal layer.
			copy(payload, []byte{0x90, 0xe0, 0x81, 0x02, 0x07, 0x40})
			var wg sync.WaitGroup
			vp8, _ := rtpcodec.ParseVP8Numbers(payload) // as the reader does, once
			p := packet{header: &h, payload: payload, keyframe: true, vp8: vp8}
			pkts := []*packet{&p}
			downs := *up.downs.Load()
			b.SetBytes(int64(len(payload) * subs))
			b.ReportAllocs()
			esn := uint64(1 << 17)
			for b.Loop() {
				esn++
				p.esn, p.ets = esn, esn*3000
				pool.forward(downs, pkts, &wg)
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*subs), "ns/packet")
		})
	}
}

func TestAnswerNACK(t *testing.T) {
	pool, up, writers := fakeFanout(t, 1)
	d := (*up.downs.Load())[0]
	w := writers[0]
	var wg sync.WaitGroup
	buf := make([]byte, 100)
	var sent []uint16
	for i := range 10 {
		h := rtp.Header{Version: 2, PayloadType: 96, SequenceNumber: uint16(100 + i)}
		n, _ := h.MarshalTo(buf)
		buf[n] = 0x10
		esn := uint64(65536 + 100 + i)
		up.layers[0].cache.Store(esn, buf[:n+1])
		p := packet{header: &h, payload: buf[n : n+1], esn: esn, ets: uint64(i), keyframe: true, now: time.Now().UnixNano()}
		pool.forward([]*DownTrack{d}, []*packet{&p}, &wg)
		sent = append(sent, uint16(w.lastSeq.Load()))
	}
	// sent[8] went out long ago: past any receiver's jitter window.
	d.history[sent[8]%seqHistory].at -= int64(2 * time.Second)
	nack := func(seqs ...uint16) *rtcp.TransportLayerNack {
		return &rtcp.TransportLayerNack{Nacks: rtcp.NackPairsFromSequenceNumbers(seqs)}
	}
	tests := []struct {
		name string
		nack *rtcp.TransportLayerNack
		want int64
	}{
		{"two cached packets", nack(sent[2], sent[5]), 2},
		{"repeat within the interval is ignored", nack(sent[2], sent[5]), 0},
		{"never sent", nack(sent[9] + 100), 0},
		{"another one", nack(sent[7]), 1},
		{"older than the jitter window", nack(sent[8]), 0},
	}
	for _, tt := range tests {
		before := w.n.Load()
		d.answerNACK(tt.nack, maxRTXPerNACK)
		if got := w.n.Load() - before; got != tt.want {
			t.Fatalf("%s: %d retransmissions, want %d", tt.name, got, tt.want)
		}
	}
	d.mu.Lock()
	if d.stats.nacks != 7 || d.stats.rtx != 3 || d.stats.rtxSkipped[rtxbudget.TooOld] != 1 {
		t.Fatalf("stats nacks=%d rtx=%d too old=%d, want 7, 3 and 1", d.stats.nacks, d.stats.rtx, d.stats.rtxSkipped[rtxbudget.TooOld])
	}
	d.mu.Unlock()
	// The packet too old to resend leaves the subscriber a gap only a key
	// frame repairs: the publisher is asked at once, and once a second at
	// most however many more cannot be resent.
	if got := up.plisSent[KeyframeRepair].Load() + up.plisHeld.Load(); got != 1 {
		t.Fatalf("%d key frame requests for an unrepairable packet, want 1", got)
	}
	d.history[sent[6]%seqHistory].at -= int64(2 * time.Second)
	d.answerNACK(nack(sent[6]), maxRTXPerNACK)
	if got := up.plisSent[KeyframeRepair].Load() + up.plisHeld.Load(); got != 1 {
		t.Fatalf("%d key frame requests for two unrepairable packets within a second, want 1", got)
	}
}

func TestHiddenTilePausesVideo(t *testing.T) {
	pool, up, writers := fakeFanout(t, 1)
	d := (*up.downs.Load())[0]
	w := writers[0]
	var wg sync.WaitGroup
	h := rtp.Header{Version: 2, PayloadType: 96}
	key := []byte{0x10, 0x00, 0x00, 0x9d, 0x01, 0x2a}
	delta := []byte{0x10, 0x01, 0x00}
	esn := uint64(1 << 17)
	send := func(n int, payload []byte, isKey bool) {
		for range n {
			esn++
			p := packet{header: &h, payload: payload, esn: esn, ets: esn * 3000, keyframe: isKey}
			pool.forward([]*DownTrack{d}, []*packet{&p}, &wg)
		}
	}
	send(5, key, true)
	if w.n.Load() != 5 {
		t.Fatalf("visible tile: %d packets, want 5", w.n.Load())
	}
	d.setMaxSize(0, 0)
	send(5, delta, false)
	if w.n.Load() != 5 {
		t.Fatalf("hidden tile still received video: %d packets", w.n.Load())
	}
	d.setMaxSize(640, 360)
	send(3, delta, false) // shown again: waits for a key frame
	if w.n.Load() != 5 {
		t.Fatalf("resumed before a key frame: %d packets", w.n.Load())
	}
	send(2, key, true)
	if w.n.Load() != 7 || w.bad.Load() != 0 {
		t.Fatalf("after the key frame: %d packets (%d out of sequence), want 7 in sequence", w.n.Load(), w.bad.Load())
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.stats.drops[DropPaused] != 5 || d.stats.drops[DropCongestion] != 3 {
		t.Fatalf("drops paused=%d waiting=%d, want 5 and 3", d.stats.drops[DropPaused], d.stats.drops[DropCongestion])
	}
}

func TestLayersWantedKeepsOldLayerUntilSwitch(t *testing.T) {
	_, d, next := simulcastUp(t, 0, 1, 2) // every layer live throughout
	if got := next(); !slices.Equal(got, []string{"f"}) {
		t.Fatalf("a new subscriber wants %v, want [f]", got)
	}
	h := rtp.Header{Version: 2}
	key := []byte{0x10, 0x00, 0x00, 0x9d, 0x01, 0x2a}
	esn := uint64(1 << 17)
	send := func(layer int) {
		esn++
		d.writeRTP(&packet{header: &h, payload: key, esn: esn, ets: esn, layer: layer, keyframe: true}, nil)
	}
	send(2) // starts on f
	d.setMaxSize(320, 180)
	if got := next(); !slices.Equal(got, []string{"q", "f"}) {
		t.Fatalf("while moving to q the publisher is asked for %v, want [q f]", got)
	}
	send(0) // the key frame on q: switch
	if got := next(); !slices.Equal(got, []string{"q"}) {
		t.Fatalf("after the switch the publisher is asked for %v, want [q]", got)
	}
}

func TestAbsSendTime(t *testing.T) {
	tests := []struct {
		now  int64
		want [3]byte
	}{
		{0, [3]byte{0, 0, 0}},
		{500_000_000, [3]byte{0x02, 0x00, 0x00}},          // half a second: 0.5 * 2^18
		{64*1e9 + 250_000_000, [3]byte{0x01, 0x00, 0x00}}, // wraps every 64 s
	}
	for _, tt := range tests {
		if got := absSendTime(tt.now); got != tt.want {
			t.Errorf("absSendTime(%d) = %x, want %x", tt.now, got, tt.want)
		}
	}
}

// recordingWriter keeps the header and payload of every packet written.
type recordingWriter struct {
	mu      sync.Mutex
	headers []rtp.Header
	data    [][]byte
}

func (w *recordingWriter) WriteRTP(h *rtp.Header, payload []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	c := *h
	c.Extensions = nil
	w.headers = append(w.headers, c)
	w.data = append(w.data, slices.Clone(payload))
	return len(payload), nil
}

func (w *recordingWriter) Write(b []byte) (int, error) { return len(b), nil }

// With RTX negotiated, retransmissions and padding go on the RTX stream
// (RFC 4588: the original sequence number first), and the media stream's
// sequence numbers stay contiguous, so a lost probe is never asked for.
func TestRTXStream(t *testing.T) {
	const rtxSSRC, rtxPT = 7777, 97
	pool, up, _ := fakeFanout(t, 1)
	d := (*up.downs.Load())[0]
	w := &recordingWriter{}
	d.writer.Store(&trackWriter{w: w, ssrc: 1, pt: 96, rtxSSRC: rtxSSRC, rtxPT: rtxPT})
	d.mu.Lock()
	d.padRate = 1_000_000
	d.mu.Unlock()

	var wg sync.WaitGroup
	buf := make([]byte, 100)
	now := time.Now().UnixNano()
	for i := range 10 {
		h := rtp.Header{Version: 2, PayloadType: 96, SequenceNumber: uint16(100 + i), Marker: true}
		n, _ := h.MarshalTo(buf)
		copy(buf[n:], []byte{0x10, byte(i), 0xaa})
		esn := uint64(65536 + 100 + i)
		up.layers[0].cache.Store(esn, buf[:n+3])
		p := packet{header: &h, payload: buf[n : n+3], esn: esn, ets: uint64(i * 3000), keyframe: true, now: now}
		pool.forward([]*DownTrack{d}, []*packet{&p}, &wg)
		now += int64(100 * time.Millisecond)
	}
	w.mu.Lock()
	var media []uint16
	var rtxSeqs []uint16
	for i, h := range w.headers {
		switch h.SSRC {
		case 1:
			media = append(media, h.SequenceNumber)
		case rtxSSRC:
			if h.PayloadType != rtxPT || !h.Padding {
				t.Fatalf("RTX packet %d: PT %d padding %v, want %d and padding", i, h.PayloadType, h.Padding, rtxPT)
			}
			rtxSeqs = append(rtxSeqs, h.SequenceNumber)
		default:
			t.Fatalf("packet on SSRC %d", h.SSRC)
		}
	}
	w.mu.Unlock()
	if len(media) != 10 || len(rtxSeqs) == 0 {
		t.Fatalf("%d media packets and %d probes, want 10 and some", len(media), len(rtxSeqs))
	}
	for i := 1; i < len(media); i++ {
		if media[i] != media[i-1]+1 {
			t.Fatalf("media sequence numbers %v: padding took some", media)
		}
	}

	d.answerNACK(&rtcp.TransportLayerNack{Nacks: rtcp.NackPairsFromSequenceNumbers([]uint16{media[4]})}, maxRTXPerNACK)
	w.mu.Lock()
	defer w.mu.Unlock()
	h, p := w.headers[len(w.headers)-1], w.data[len(w.data)-1]
	want := append([]byte{byte(media[4] >> 8), byte(media[4])}, 0x10, 4, 0xaa)
	if h.SSRC != rtxSSRC || h.PayloadType != rtxPT || h.SequenceNumber != rtxSeqs[len(rtxSeqs)-1]+1 || !slices.Equal(p, want) {
		t.Fatalf("retransmission %+v payload %x, want SSRC %d PT %d seq %d payload %x",
			h, p, rtxSSRC, rtxPT, rtxSeqs[len(rtxSeqs)-1]+1, want)
	}
}

// With RTX, the loss that decides congestion is that of the media and the
// RTX stream together, weighted by the packets each report covers: a
// probe overfilling the link loses its padding there, not media.
func TestLossWithRTX(t *testing.T) {
	_, up, _ := fakeFanout(t, 1)
	d := (*up.downs.Load())[0]
	block := func(ssrc uint32, lost uint8, highest uint32) rtcp.ReceptionReport {
		return rtcp.ReceptionReport{SSRC: ssrc, FractionLost: lost, LastSequenceNumber: highest}
	}
	for _, tt := range []struct {
		name       string
		media, rtx rtcp.ReceptionReport
		withoutRTX bool
		want       uint8
	}{
		{"first report: the worse", block(1, 0, 1000), block(9, 128, 500), false, 128},
		{"100 media packets, 100 probes, half of them lost", block(1, 0, 1100), block(9, 128, 600), false, 64},
		{"300 media packets lost a little, 100 probes none", block(1, 16, 1400), block(9, 0, 700), false, 12},
		{"no RTX block: the media's", block(1, 40, 1500), rtcp.ReceptionReport{}, true, 40},
		{"no probes since: the media's", block(1, 7, 1500), block(9, 9, 700), false, 7},
		{"nothing new: the worse", block(1, 7, 1500), block(9, 9, 700), false, 9},
	} {
		all := []rtcp.ReceptionReport{tt.media}
		if !tt.withoutRTX {
			all = append(all, tt.rtx)
		}
		if got := d.withRTXLoss(&tt.media, all, 9); got != tt.want {
			t.Errorf("%s: loss %d/256, want %d", tt.name, got, tt.want)
		}
	}
}

// A probe that overfills the link loses its padding on the RTX stream:
// the probe stops as after a fall of the estimate, and the layer is not
// capped (a cap held the next probe 10 s away). Media lost as much caps it.
func TestProbeOverfillStopsProbe(t *testing.T) {
	_, up, _ := fakeFanout(t, 1)
	d := (*up.downs.Load())[0]
	d.writer.Store(&trackWriter{w: &countingWriter{}, ssrc: 1, pt: 96, rtxSSRC: 9, rtxPT: 97})
	d.mu.Lock()
	d.current, d.padRate = 0, 50_000
	d.mu.Unlock()
	rr := func(media, rtx uint8, highest uint32) *rtcp.ReceiverReport {
		return &rtcp.ReceiverReport{Reports: []rtcp.ReceptionReport{
			{SSRC: 1, FractionLost: media, LastSequenceNumber: highest},
			{SSRC: 9, FractionLost: rtx, LastSequenceNumber: highest},
		}}
	}
	d.onReceiverReport(rr(0, 0, 1000))
	d.onReceiverReport(rr(0, 160, 1100)) // 100 media packets, 100 probes: 31 % lost overall
	d.mu.Lock()
	fell, capped, pad := d.estFell, d.lossCap, d.padRate
	d.mu.Unlock()
	if time.Since(time.Unix(0, fell)) > time.Second || capped != 0 || pad != 0 {
		t.Fatalf("padding lost: estimate fell at %v, layer cap %d, padding %.0f bit/s; want a fall now, no cap, no padding", time.Unix(0, fell), capped, pad)
	}
	d.onReceiverReport(rr(64, 64, 1200)) // the media lose a quarter
	d.mu.Lock()
	capped = d.lossCap
	d.mu.Unlock()
	if capped == 0 {
		t.Fatal("media lost 25 %: no layer cap")
	}
}

// A subscriber is heard again when its report echoes a sender report it
// had not echoed before, though its highest sequence number is stale: a
// paused video sends nothing to move it, and repairs go on the RTX stream.
// A report echoing the same sender report again, or none, is stale.
func TestSenderReportEchoIsHeard(t *testing.T) {
	pool, up, writers := fakeFanout(t, 1)
	d := (*up.downs.Load())[0]
	var wg sync.WaitGroup
	h := rtp.Header{Version: 2, PayloadType: 96}
	for i := range 5 {
		p := packet{header: &h, payload: []byte{0x10, 0, 0, 0x9d, 0x01, 0x2a}, esn: uint64(1<<17 + i), ets: uint64(i * 3000), keyframe: true, now: time.Now().UnixNano()}
		pool.forward([]*DownTrack{d}, []*packet{&p}, &wg)
	}
	stale := uint32(writers[0].lastSeq.Load()) - 2 // the subscriber lost the last two
	now := time.Now()
	sr := func(ago time.Duration) uint32 { return ntpMiddle(now.Add(-ago)) }
	for _, tt := range []struct {
		name  string
		lsr   uint32
		heard bool
	}{
		{"first report, no sender report yet", 0, false},
		{"the same highest packet, no echo", 0, false},
		{"echoes a sender report", sr(300 * time.Millisecond), true},
		{"echoes it again", sr(300 * time.Millisecond), false},
		{"echoes a newer one", sr(100 * time.Millisecond), true},
		{"echoes one from long ago", sr(time.Minute), false},
	} {
		at, _ := d.report(&rtcp.ReceptionReport{SSRC: 1, LastSequenceNumber: stale, LastSenderReport: tt.lsr}, 0, now)
		if (at != 0) != tt.heard {
			t.Errorf("%s: heard at %d, want heard %v", tt.name, at, tt.heard)
		}
		if tt.heard && (at > now.UnixNano() || now.UnixNano()-at > int64(time.Second)) {
			t.Errorf("%s: heard at %v, want the echoed report's send time", tt.name, time.Unix(0, at))
		}
	}
}
