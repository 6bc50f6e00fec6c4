package sfu

import (
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/monkeythorn/meet/sfu/packetcache"
	"github.com/monkeythorn/meet/sfu/rtpcodec"
	"github.com/monkeythorn/meet/sfu/rtxbudget"
	"github.com/monkeythorn/meet/sfu/simulcast"
	"github.com/pion/rtcp"
	"github.com/pion/rtp"
)

// simulcastUp is an UpTrack whose publisher announced q, h and f (the SDP's
// rids) and of which only the layers in flowing have arrived and flow.
func simulcastUp(t *testing.T, flowing ...int) (*UpTrack, *DownTrack, func() []string) {
	t.Helper()
	pool, up, _, events := fakeTracks(t, 0)
	up.info.Simulcast = true
	up.layers[0] = nil
	for i, rid := range []string{"q", "h", "f"} {
		up.ladder[i] = simulcast.Spec{Known: true, RID: rid}
	}
	for _, i := range flowing {
		up.layers[i] = &upLayer{index: i, rid: up.ladder[i].RID, cache: packetcache.New(8)}
		up.layers[i].rate.Store(uint64(100_000 * (i + 1)))
		up.layers[i].last.Store(time.Now().Add(time.Hour).UnixNano())
	}
	d := newDownTrack(up, downLinks{batch: pool.batch, keyframes: up, log: up.log})
	d.writer.Store(&trackWriter{w: &countingWriter{}, ssrc: 1, pt: 96})
	up.addDown(d)
	next := func() []string {
		t.Helper()
		select {
		case e := <-events:
			return e.(*LayersWanted).RIDs
		case <-time.After(2 * time.Second):
			t.Fatal("no layers message")
			return nil
		}
	}
	return up, d, next
}

// The top layer is never paused before it has been seen: a browser starts
// it only once its estimate allows, seconds into the call.
func TestLayersWantedKeepsUnseenLayers(t *testing.T) {
	_, d, next := simulcastUp(t, 0, 1)
	d.setMaxSize(320, 180) // a small tile: q is enough
	var got []string
	for range 3 {
		if got = next(); slices.Equal(got, []string{"q", "f"}) || slices.Equal(got, []string{"q", "h", "f"}) {
			return
		}
	}
	t.Fatalf("the publisher was asked for %v, want f kept until seen", got)
}

// A tile that needs the top layer asks for it from its announced size and
// rate although it was never measured, and it is forwarded once it flows.
func TestTopLayerAskedBeforeMeasured(t *testing.T) {
	up, d, next := simulcastUp(t, 0, 1)
	up.setEncodings([]Encoding{
		{RID: "q", Width: 320, Height: 180, MaxBitrate: 150_000},
		{RID: "h", Width: 640, Height: 360, MaxBitrate: 500_000},
		{RID: "f", Width: 1280, Height: 720, MaxBitrate: 1_500_000},
	})
	d.setMaxSize(1260, 700)
	d.setEstimate(3_000_000)
	d.mu.Lock()
	target := d.target
	d.mu.Unlock()
	if target != 2 {
		t.Fatalf("target layer %d for a 1260x700 tile on 3 Mbit/s, want 2 (f)", target)
	}
	if got := up.bestLayer(2); got != 1 {
		t.Fatalf("while f has not arrived the best layer is %d, want 1 (h)", got)
	}
	// f arrives (the browser started it): it is now the one to forward.
	up.layers[2] = &upLayer{index: 2, rid: "f", cache: packetcache.New(8)}
	up.layers[2].last.Store(time.Now().UnixNano())
	if got := up.bestLayer(2); got != 2 {
		t.Fatalf("with f flowing the best layer is %d, want 2", got)
	}
	// An estimate that fits only h moves the target down; back up, f is
	// asked for again although it was paused meanwhile.
	d.setEstimate(800_000)
	if d.wantLayer.Load() != 1 {
		t.Fatalf("target %d on 800 kbit/s, want 1", d.wantLayer.Load())
	}
	up.layers[2].last.Store(time.Now().Add(-time.Minute).UnixNano()) // paused
	d.setEstimate(3_000_000)
	var got []string
	for range 4 {
		if got = next(); slices.Contains(got, "f") && d.wantLayer.Load() == 2 {
			return
		}
	}
	t.Fatalf("after the estimate recovered the publisher was asked for %v (target %d), want f", got, d.wantLayer.Load())
}

// A 620x345 tile (two people in a 1280x800 window) needs the 640x360
// layer, whichever index the publisher's ladder gives it.
func TestTileLayerFromAnnouncedSizes(t *testing.T) {
	for _, tc := range []struct {
		name string
		encs []Encoding
		want int
	}{
		{"720p camera", []Encoding{{RID: "q", Width: 320, Height: 180}, {RID: "h", Width: 640, Height: 360}, {RID: "f", Width: 1280, Height: 720}}, 1},
		{"360p camera", []Encoding{{RID: "q", Width: 160, Height: 90}, {RID: "h", Width: 320, Height: 180}, {RID: "f", Width: 640, Height: 360}}, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			up, d, _ := simulcastUp(t, 0, 1, 2)
			up.setEncodings(tc.encs)
			d.setMaxSize(620, 345)
			if got := d.wantLayer.Load(); int(got) != tc.want {
				t.Errorf("layer %d, want %d", got, tc.want)
			}
		})
	}
}

// Under a falling estimate the subscriber moves down a layer at that
// layer's next key frame, and no frame is dropped meanwhile; only far over
// the estimate are whole frames dropped, and video resumes at a key frame.
func TestFallingEstimateSwitchesDownWithoutDrops(t *testing.T) {
	up, d, _ := simulcastUp(t, 0, 1)
	up.layers[0].rate.Store(120_000)
	up.layers[1].rate.Store(450_000)
	d.setMaxSize(640, 360) // h
	d.setEstimate(2_000_000)
	h := rtp.Header{Version: 2}
	key := []byte{0x10, 0x00, 0x00, 0x9d, 0x01, 0x2a}
	delta := make([]byte, 900)
	delta[0] = 0x10
	delta[3] = 0x01 // not a key frame
	now := time.Now().UnixNano()
	esn := [3]uint64{1 << 17, 1 << 18, 1 << 19}
	var frames [3]uint64
	// frame sends one 30 fps frame of layer: two 900-byte packets, about
	// 450 kbit/s.
	frame := func(layer int, isKey bool) {
		payload := delta
		if isKey {
			payload = key
		}
		frames[layer]++
		for range 2 {
			esn[layer]++
			d.writeRTP(&packet{header: &h, payload: payload, esn: esn[layer], ets: frames[layer] * 3000, layer: layer, keyframe: isKey, now: now}, nil)
		}
		now += int64(time.Second / 30)
	}
	frame(1, true)
	for range 30 {
		frame(1, false)
	}
	drops := func(r DropReason) uint64 {
		d.mu.Lock()
		defer d.mu.Unlock()
		return d.stats.drops[r]
	}
	if d.currentLayer() != 1 || drops(DropCongestion) != 0 {
		t.Fatalf("on 2 Mbit/s: layer %d, %d congestion drops; want h and none", d.currentLayer(), drops(DropCongestion))
	}
	d.setEstimate(300_000) // h no longer fits; q does
	if d.wantLayer.Load() != 0 {
		t.Fatalf("target %d on 300 kbit/s, want 0 (q)", d.wantLayer.Load())
	}
	// Two seconds of h at 450 kbit/s before q's key frame (half a second
	// ahead of the estimate by then): nothing dropped.
	for range 60 {
		frame(1, false)
	}
	frame(0, false) // q flows too, but waits for its key frame
	if got := drops(DropCongestion); got != 0 {
		t.Fatalf("%d packets dropped for congestion while waiting to switch down, want none", got)
	}
	frame(0, true)
	for range 10 {
		frame(0, false)
	}
	if d.currentLayer() != 0 {
		t.Fatalf("after q's key frame the layer is %d, want 0", d.currentLayer())
	}
	if n := up.plisSent[KeyframeCongestion].Load(); n != 0 {
		t.Errorf("%d key frames asked for congestion, want none", n)
	}

	// An estimate far below even q does not drop frames of the lowest
	// layer while the link does not lose heavily: the estimate lags.
	d.setEstimate(30_000)
	for range 30 {
		frame(0, false)
	}
	if got := drops(DropCongestion); got != 0 {
		t.Fatalf("%d packets of the lowest layer dropped on a link that loses nothing, want none", got)
	}
	// Last resort: on a link that loses heavily (too narrow even for q),
	// whole frames are dropped...
	d.mu.Lock()
	d.repair.SetLoss(0.3, 0.3, time.Now())
	d.repair.SetLoss(0.3, 0.3, time.Now()) // two reports: one could be a fluke
	d.mu.Unlock()
	for range 30 {
		frame(0, false)
	}
	dropped := drops(DropCongestion)
	if dropped == 0 {
		t.Fatal("no frames dropped at 8 times the estimate on a link losing 30 %")
	}
	// ...and video resumes at a key frame once the debt is paid.
	d.setEstimate(2_000_000)
	now += int64(2 * time.Second)
	frame(0, false)
	if drops(DropCongestion) != dropped+2 {
		t.Fatalf("a delta frame was forwarded before the key frame")
	}
	frame(0, true)
	frame(0, false)
	if drops(DropCongestion) != dropped+2 {
		t.Errorf("frames dropped after the key frame: %d, want %d", drops(DropCongestion), dropped+2)
	}
}

// After a dip, padding fills the estimate towards what the next layer up
// needs, so a receiver-side estimate can grow again; none once the tile's
// layer fits.
func TestProbePadsTowardsNextLayer(t *testing.T) {
	up, d, _ := simulcastUp(t, 0, 1)
	up.layers[0].rate.Store(120_000)
	up.layers[1].rate.Store(450_000)
	d.setMaxSize(640, 360) // h
	d.setEstimate(300_000) // q only
	h := rtp.Header{Version: 2}
	key := []byte{0x10, 0x00, 0x00, 0x9d, 0x01, 0x2a}
	now := time.Now().UnixNano()
	esn, ts := uint64(1<<17), uint64(0)
	frames := func(layer, n int) {
		for i := range n {
			ts += 3000
			for j := range 2 {
				esn++
				h.Marker = j == 1
				d.writeRTP(&packet{header: &h, payload: key, esn: esn, ets: ts, layer: layer, keyframe: i == 0, now: now}, nil)
			}
			now += int64(time.Second / 30)
		}
	}
	padding := func() uint64 {
		d.mu.Lock()
		defer d.mu.Unlock()
		return d.stats.padding
	}
	frames(0, 1)
	d.setEstimate(300_000) // now on q, the target: probing starts
	frames(0, 60)
	// min(450k/0.85*1.05, 1.2*300k) - 120k = 240 kbit/s for 2 s, in
	// packets of 255 bytes of padding plus headers.
	want := 240_000.0 * 2 / 8 / (padSize + rtpHeaderOverhead)
	if got := float64(padding()); got < 0.8*want || got > 1.2*want {
		t.Errorf("%.0f padding packets in 2 s, want about %.0f", got, want)
	}
	d.setEstimate(2_000_000) // h fits: no more padding
	before := padding()
	frames(0, 30)
	if got := padding() - before; got != 0 {
		t.Errorf("%d padding packets once the tile's layer fits, want 0", got)
	}
	// Right after the estimate fell it lags the link: no padding yet.
	d.setEstimate(300_000)
	rates := up.layerRates(now)
	d.mu.Lock()
	d.current = d.target
	d.probe(rates[:])
	padRate := d.padRate
	d.mu.Unlock()
	if padRate != 0 {
		t.Errorf("padding at %.0f bit/s just after the estimate fell, want none for %v", padRate, probeSettle)
	}
}

// A receiver-side estimate's first reports lag a link that carries the
// flowing layer well: they do not move the subscriber down. A falling
// estimate does, and so does a low one while the link loses.
func TestLowFirstEstimateKeepsFlowingLayer(t *testing.T) {
	target := func(d *DownTrack) int {
		d.mu.Lock()
		defer d.mu.Unlock()
		return d.target
	}
	setup := func() *DownTrack {
		up, d, _ := simulcastUp(t, 0, 1)
		up.layers[0].rate.Store(150_000)
		up.layers[1].rate.Store(900_000)
		d.setMaxSize(640, 360) // h
		d.mu.Lock()
		d.sendBps = 900_000 // h has been flowing
		d.current, d.target = 1, 1
		d.mu.Unlock()
		return d
	}
	d := setup()
	d.setEstimate(360_000)
	if got := target(d); got != 1 {
		t.Fatalf("a first estimate of 360 kbit/s under 900 kbit/s of h flowing moved the target to %d, want 1 (h)", got)
	}
	d.setEstimate(380_000) // rising
	if got := target(d); got != 1 {
		t.Fatalf("a rising estimate moved the target to %d, want 1 (h)", got)
	}
	d.setEstimate(320_000) // fell by more than 5 %: the link is congested
	if got := target(d); got != 0 {
		t.Fatalf("a falling estimate left the target at %d, want 0 (q)", got)
	}
	d = setup()
	d.mu.Lock()
	d.lossCap = 800_000 // the link loses
	d.mu.Unlock()
	d.setEstimate(360_000)
	if got := target(d); got != 0 {
		t.Fatalf("a low estimate on a lossy link left the target at %d, want 0 (q)", got)
	}
}

// On a calm link what is carried, media and padding, raises the limit, so
// a subscriber moved down climbs back to its tile's layer within seconds
// although its receiver-side estimate grows by 8 % a second.
func TestCalmLinkClimbsBackByPadding(t *testing.T) {
	_, d, _ := tileWantsH(t)
	h := rtp.Header{Version: 2}
	payload := make([]byte, 600) // 30 fps of it is about 150 kbit/s
	payload[0], payload[3], payload[4], payload[5] = 0x10, 0x9d, 0x01, 0x2a
	now := time.Now()
	esn, ts := uint64(1<<17), uint64(0)
	frames := func(n int) {
		for i := range n {
			ts += 3000
			esn++
			h.Marker = true
			d.writeRTP(&packet{header: &h, payload: payload, esn: esn, ets: ts, layer: 0, keyframe: i == 0, now: now.UnixNano()}, nil)
			now = now.Add(time.Second / 30)
		}
	}
	d.setEstimate(200_000) // q only: h needs 500k/0.85
	frames(1)
	d.setEstimate(200_000)
	if d.wantLayer.Load() != 0 {
		t.Fatalf("target %d on 200 kbit/s, want 0 (q)", d.wantLayer.Load())
	}
	var climbed time.Duration
	for i := range 40 { // 10 s in liveness ticks
		frames(8)
		d.tick(time.Now(), livenessTick)
		if d.wantLayer.Load() == 1 {
			climbed = time.Duration(i+1) * livenessTick
			break
		}
	}
	if climbed == 0 {
		d.mu.Lock()
		defer d.mu.Unlock()
		t.Fatalf("still on q after 10 s of a calm link: limit %d, carried %.0f, padding %.0f bit/s", d.budget.Rate(), d.carried, d.padRate)
	}
	t.Logf("back to h after %v", climbed)
}

// tileWantsH is simulcastUp with q flowing at 150 kbit/s, h at 500 and a
// tile that needs h.
func tileWantsH(t *testing.T) (*UpTrack, *DownTrack, func() []string) {
	t.Helper()
	up, d, next := simulcastUp(t, 0, 1)
	up.layers[0].rate.Store(150_000)
	up.layers[1].rate.Store(500_000)
	d.setMaxSize(640, 360)
	return up, d, next
}

// A receiver report of a full link's loss moves the subscriber down, and
// the publisher is told to send the lower layer (it may have paused it).
func TestLossyReportTellsPublisher(t *testing.T) {
	_, d, next := tileWantsH(t)
	d.mu.Lock()
	d.current, d.target = 1, 1
	d.curLayer.Store(1)
	d.wantLayer.Store(1)
	d.mu.Unlock()
	d.layersChanged(true)
	for got := next(); !slices.Equal(got, []string{"h", "f"}); got = next() {
	}
	d.onReceiverReport(&rtcp.ReceiverReport{Reports: []rtcp.ReceptionReport{{SSRC: 1, FractionLost: 64}}})
	if got := next(); !slices.Contains(got, "q") {
		t.Fatalf("after a report of 25 %% loss the publisher was asked for %v, want q too", got)
	}
}

// Repair is a share of what flows when the estimate is lower: under
// jitter a receiver-side estimate fell to 14 kbit/s, far under what the
// link carried.
func TestRepairBudgetFollowsWhatFlows(t *testing.T) {
	_, d, _ := simulcastUp(t, 0, 1)
	d.setEstimate(50_000)
	d.mu.Lock()
	d.sendBps = 1_000_000
	d.mu.Unlock()
	d.tick(time.Now(), livenessTick) // nothing sent in the tick: sendBps decays to 700k
	d.mu.Lock()
	defer d.mu.Unlock()
	if got, want := d.repair.Rate(), 600_000*rtxbudget.MaxShare; got < want {
		t.Fatalf("repair budget %.0f bit/s on an estimate of 50 kbit/s with 700 kbit/s flowing, want at least %.0f", got, want)
	}
}

// A loss ceiling that lapses lets the subscriber back up even when it
// sends no estimate.
func TestLossCapLapsesWithoutEstimate(t *testing.T) {
	_, d, _ := tileWantsH(t)
	d.mu.Lock()
	d.lossCap, d.lossCapUntil = 100_000, time.Now().Add(-time.Second).UnixNano()
	d.retarget()
	d.mu.Unlock()
	if d.wantLayer.Load() != 0 {
		t.Fatalf("target %d under a 100 kbit/s loss ceiling, want 0", d.wantLayer.Load())
	}
	d.tick(time.Now(), livenessTick)
	if d.wantLayer.Load() != 1 {
		t.Fatalf("target %d after the ceiling lapsed, want 1 (h)", d.wantLayer.Load())
	}
}

// Steps of a few percent each add up to a fall of the estimate.
func TestSmallEstimateStepsAddUpToAFall(t *testing.T) {
	_, d, _ := simulcastUp(t, 0, 1)
	for _, bps := range []uint64{1_000_000, 1_040_000, 1_000_000} { // -3.8 %: no fall yet
		d.setEstimate(bps)
	}
	d.mu.Lock()
	fell := d.estFell
	d.mu.Unlock()
	if fell != 0 {
		t.Fatal("a 3.8 % step counted as a fall")
	}
	d.setEstimate(960_000) // -7.7 % from the peak
	d.mu.Lock()
	fell = d.estFell
	d.mu.Unlock()
	if fell == 0 {
		t.Fatal("two steps of 3.8 % from the peak did not count as a fall")
	}
}

// What a calm link carried fades: after a half-life it counts for half.
func TestProvenFades(t *testing.T) {
	_, d, _ := simulcastUp(t, 0, 1)
	d.setEstimate(100_000)
	d.mu.Lock()
	d.proven = 1_000_000
	d.mu.Unlock()
	for range int(provenHalfLife / livenessTick) {
		d.tick(time.Now(), livenessTick)
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.proven < 450_000 || d.proven > 550_000 {
		t.Fatalf("proven %.0f bit/s one half-life after 1 Mbit/s, want about 500k", d.proven)
	}
}

// pictureWriter records the VP8 picture id and TL0PICIDX of each packet a
// subscriber is sent.
type pictureWriter struct {
	mu   sync.Mutex
	seqs []uint16
	pids []uint16
	tl0s []uint8
}

func (w *pictureWriter) WriteRTP(h *rtp.Header, payload []byte) (int, error) {
	n, _ := rtpcodec.ParseVP8Numbers(payload)
	w.mu.Lock()
	defer w.mu.Unlock()
	w.seqs = append(w.seqs, h.SequenceNumber)
	w.pids = append(w.pids, n.PictureID)
	w.tl0s = append(w.tl0s, n.TL0PicIdx)
	return len(payload), nil
}

func (w *pictureWriter) Write(b []byte) (int, error) { return len(b), nil }

func (w *pictureWriter) last() (seq, pid uint16, tl0 uint8) {
	w.mu.Lock()
	defer w.mu.Unlock()
	i := len(w.pids) - 1
	return w.seqs[i], w.pids[i], w.tl0s[i]
}

// A subscriber moved between layers sees one run of VP8 picture ids and
// TL0PICIDX, however each layer numbers its own; a retransmission carries
// the numbers the packet was first sent with. With the publisher's numbers
// the picture id jumped by thousands at each switch, and Chrome stalled
// again and again on pictures it took for missing (docs/quality.md).
func TestLayerSwitchKeepsPictureNumbers(t *testing.T) {
	up, d, _ := simulcastUp(t, 0, 1)
	w := &pictureWriter{}
	d.writer.Store(&trackWriter{w: w, ssrc: 1, pt: 96})
	up.layers[0].rate.Store(120_000)
	up.layers[1].rate.Store(450_000)
	d.setMaxSize(640, 360) // h
	d.setEstimate(2_000_000)

	// Each layer numbers on its own: q from 7000 and TL0PICIDX 250 (it
	// wraps), h from 30000 and 10. Every frame is a base-layer frame.
	pid := [2]uint16{7000, 30000}
	tl0 := [2]uint8{250, 10}
	esn := [2]uint64{1 << 17, 1 << 18}
	now := time.Now().UnixNano()
	buf := make([]byte, 64)
	frame := func(layer int, key bool) (pidSent uint16, tl0Sent uint8) {
		h := rtp.Header{Version: 2, PayloadType: 96, SequenceNumber: uint16(esn[layer])}
		n, _ := h.MarshalTo(buf)
		payload := buf[n : n+8]
		copy(payload, []byte{0x90, 0xc0, 0x80 | byte(pid[layer]>>8), byte(pid[layer]), tl0[layer], 0x01, 0, 0})
		if key {
			payload[5] = 0x00 // P = 0
		}
		esn[layer]++
		up.layers[layer].cache.Store(esn[layer], buf[:n+8])
		vp8, _ := rtpcodec.ParseVP8Numbers(payload)
		d.writeRTP(&packet{header: &h, payload: payload, esn: esn[layer], ets: esn[layer] * 3000, layer: layer, keyframe: key, vp8: vp8, now: now}, nil)
		now += int64(time.Second / 30)
		pid[layer] = (pid[layer] + 1) & 0x7FFF
		tl0[layer]++
		if len(w.pids) == 0 {
			return 0, 0
		}
		_, p, l := w.last()
		return p, l
	}
	requireNext := func(what string, gotPID uint16, gotTL0 uint8, prevPID uint16, prevTL0 uint8) {
		t.Helper()
		if gotPID != (prevPID+1)&0x7FFF || gotTL0 != prevTL0+1 {
			t.Fatalf("%s: picture %d, TL0PICIDX %d; want %d and %d, after %d and %d", what, gotPID, gotTL0, (prevPID+1)&0x7FFF, prevTL0+1, prevPID, prevTL0)
		}
	}

	p, l := frame(1, true)
	if p != 30000 || l != 10 {
		t.Fatalf("first layer: picture %d, TL0PICIDX %d; want the publisher's 30000 and 10", p, l)
	}
	for range 5 {
		np, nl := frame(1, false)
		requireNext("h", np, nl, p, l)
		p, l = np, nl
	}
	d.setEstimate(300_000) // down to q at its key frame
	frame(0, false)        // waits for the key frame: not sent
	np, nl := frame(0, true)
	if d.currentLayer() != 0 {
		t.Fatalf("layer %d after q's key frame, want q", d.currentLayer())
	}
	requireNext("q's key frame", np, nl, p, l)
	p, l = np, nl
	for range 10 { // TL0PICIDX wraps on q
		np, nl := frame(0, false)
		requireNext("q", np, nl, p, l)
		p, l = np, nl
	}
	qSeq, qPID, qTL0 := w.last()
	d.setEstimate(2_000_000) // back up to h
	frame(1, false)
	np, nl = frame(1, true)
	if d.currentLayer() != 1 {
		t.Fatalf("layer %d after h's key frame, want h", d.currentLayer())
	}
	requireNext("h's key frame again", np, nl, p, l)

	// A NACK for q's last packet: resent from the cache with the numbers
	// it was sent with, not the publisher's and not h's.
	sent := len(w.pids)
	d.answerNACK(&rtcp.TransportLayerNack{Nacks: rtcp.NackPairsFromSequenceNumbers([]uint16{qSeq})}, maxRTXPerNACK)
	if len(w.pids) != sent+1 {
		t.Fatalf("%d packets resent, want 1", len(w.pids)-sent)
	}
	if s, p, l := w.last(); s != qSeq || p != qPID || l != qTL0 {
		t.Errorf("retransmission: sequence %d picture %d TL0PICIDX %d; want %d, %d and %d as first sent", s, p, l, qSeq, qPID, qTL0)
	}
}
