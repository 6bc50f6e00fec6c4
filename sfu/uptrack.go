package sfu

import (
	"errors"
	"io"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/monkeythorn/meet/sfu/audiolevel"
	"github.com/monkeythorn/meet/sfu/nack"
	"github.com/monkeythorn/meet/sfu/packetcache"
	"github.com/monkeythorn/meet/sfu/rtpcodec"
	"github.com/monkeythorn/meet/sfu/rtpmunger"
	"github.com/monkeythorn/meet/sfu/rtpstats"
	"github.com/monkeythorn/meet/sfu/simulcast"
	"github.com/pion/rtcp"
	"github.com/pion/rtp"
	"github.com/pion/sdp/v3"
	"github.com/pion/webrtc/v4"
)

// Cache sizes in packets: about two seconds of 2.5 Mbit/s video, and of
// audio at 50 packets per second.
const (
	videoCacheSize = 512
	audioCacheSize = 128
)

// pliInterval is the shortest time between two key frame requests sent to
// one publisher layer, however many subscribers ask.
const pliInterval = 500 * time.Millisecond

// maxLayers is the number of simulcast layers a track may have.
const maxLayers = simulcast.MaxLayers

// liveWindow is how long after its last packet a layer still counts as
// being sent: a paused layer is not forwarded to anyone.
const liveWindow = 1500 * time.Millisecond

// UpTrack is one published track: the streams a publisher sends for one
// transceiver (one, or one per simulcast layer). It works with what it is
// given when built (upLinks), so it can be tested alone.
type UpTrack struct {
	upLinks
	mid   string
	info  TrackInfo
	codec rtpcodec.Codec
	kind  webrtc.RTPCodecType
	mime  string
	redPT uint8 // the publisher's Opus RED payload type; 0: not RED

	nacksSent atomic.Uint64
	plisSent  [numKeyframeReasons]atomic.Uint64
	plisHeld  atomic.Uint64 // requests not sent: the layer was asked within pliInterval

	levelID uint8            // RFC 6464 extension id; 0 when not negotiated
	meter   audiolevel.Meter // loudness, for speaker detection

	mu     sync.Mutex
	wanted uint8                        // bit i: some subscriber needs layer i (as last told)
	told   bool                         // wanted has been sent once
	ladder simulcast.Ladder             // what the publisher announced or its SDP names
	layers [maxLayers]*upLayer          // received at least once
	downs  atomic.Pointer[[]*DownTrack] // copy on write: the reader never locks
	closed bool
}

// upLayer is one received RTP stream.
type upLayer struct {
	index   int
	rid     string
	ssrc    uint32
	cache   *packetcache.Cache
	stats   *rtpstats.Receiver
	lastPLI atomic.Int64 // unix nanoseconds
	done    chan struct{}

	rate atomic.Uint64 // received bits per second, measured every rrInterval
	last atomic.Int64  // unix nanoseconds of the last packet

	// Owned by the reader goroutine.
	wg        sync.WaitGroup // parallel fan-out of the current frame
	bytes     uint64         // since the last rate measurement
	rateSince int64
	nack      nack.Tracker
	nackBuf   []uint16
	nextNACK  int64 // unix nanoseconds
	nextRR    int64
}

// How often the reader looks for lost packets to ask for again, and sends
// a receiver report.
const (
	nackInterval = 40 * time.Millisecond
	rrInterval   = time.Second
)

// upLinks are an UpTrack's collaborators.
type upLinks struct {
	fanout fanout // hands each packet to the DownTracks
	// toPublisher sends RTCP (NACK, receiver reports, PLI) to the
	// publisher's connection.
	toPublisher func([]rtcp.Packet) error
	// arrivals records transport-wide sequence numbers for the publisher's
	// congestion control feedback.
	arrivals interface {
		record(b []byte, now int64)
	}
	tell   func(Event)    // an event to the publisher: LayersWanted
	ended  func(*UpTrack) // every layer stopped
	retire func(*UpTrack) // closed: fold the counters into the totals
	log    *slog.Logger
}

// fanout hands one packet to many DownTracks and returns when every copy
// is written (fanoutPool).
type fanout interface {
	forward(downs []*DownTrack, pkts []*packet, wg *sync.WaitGroup)
}

func newUpTrack(links upLinks, publisher, mid, source string, t *webrtc.TrackRemote, recv *webrtc.RTPReceiver, encs []Encoding) *UpTrack {
	u := &UpTrack{
		upLinks: links,
		mid:     mid,
		kind:    t.Kind(),
		mime:    t.Codec().MimeType,
		codec:   rtpcodec.FromMimeType(t.Codec().MimeType),
		info: TrackInfo{
			ID:          publisher + "-" + mid,
			Participant: publisher,
			Kind:        t.Kind().String(),
			Source:      source,
			Simulcast:   t.RID() != "",
		},
	}
	if u.codec == rtpcodec.RED {
		u.redPT = uint8(t.Codec().PayloadType)
	}
	u.downs.Store(&[]*DownTrack{})
	// The layers the SDP names exist even before their first packet: a
	// browser starts its top layer only once its estimate allows.
	for _, rt := range recv.Tracks() {
		i := layerIndex(rt.RID())
		u.ladder[i].Known, u.ladder[i].RID = true, rt.RID()
	}
	u.applyEncodings(encs)
	// Set before any reader starts; every layer shares the receiver.
	for _, e := range recv.GetParameters().HeaderExtensions {
		switch {
		case e.URI == sdp.AudioLevelURI && u.kind == webrtc.RTPCodecTypeAudio:
			u.levelID = uint8(e.ID)
		}
	}
	return u
}

// setEncodings records the layers the publisher announced and lets the
// subscribers choose again.
func (u *UpTrack) setEncodings(encs []Encoding) {
	u.mu.Lock()
	u.applyEncodings(encs)
	u.mu.Unlock()
	for _, d := range *u.downs.Load() {
		d.reconsider()
	}
	u.updateWanted()
}

// applyEncodings is setEncodings with u.mu held (or u not yet shared).
func (u *UpTrack) applyEncodings(encs []Encoding) {
	for _, e := range encs {
		i := layerIndex(e.RID)
		if !u.info.Simulcast && e.RID != "" {
			continue
		}
		u.ladder[i] = simulcast.Spec{Known: true, RID: e.RID, Width: e.Width, Height: e.Height, Bitrate: e.MaxBitrate}
	}
}

// layerIndex orders simulcast layers from the lowest to the highest
// resolution; browsers name them by rid.
func layerIndex(rid string) int {
	switch rid {
	case "q", "l", "low", "0":
		return 0
	case "h", "m", "mid", "1":
		return 1
	}
	if rid == "" {
		return 0
	}
	return 2
}

func (u *UpTrack) addLayer(t *webrtc.TrackRemote, recv *webrtc.RTPReceiver) {
	size := videoCacheSize
	if u.kind == webrtc.RTPCodecTypeAudio {
		size = audioCacheSize
	}
	l := &upLayer{
		index:   layerIndex(t.RID()),
		rid:     t.RID(),
		ssrc:    uint32(t.SSRC()),
		cache:   packetcache.New(size),
		stats:   rtpstats.NewReceiver(t.Codec().ClockRate),
		nackBuf: make([]uint16, 0, nack.Window),
		done:    make(chan struct{}),
	}
	l.last.Store(time.Now().UnixNano())
	u.mu.Lock()
	if u.closed || u.layers[l.index] != nil {
		u.mu.Unlock()
		return
	}
	u.layers[l.index] = l
	u.ladder[l.index].Known, u.ladder[l.index].RID = true, l.rid
	u.mu.Unlock()
	go u.read(t, l)
	go l.readRTCP(recv)
	// A layer seen for the first time may be paused now if nobody needs it.
	u.updateWanted()
}

// readRTCP takes the publisher's sender reports for the receiver reports.
func (l *upLayer) readRTCP(recv *webrtc.RTPReceiver) {
	buf := make([]byte, 1500)
	for {
		var (
			n   int
			err error
		)
		if l.rid == "" {
			n, _, err = recv.Read(buf)
		} else {
			n, _, err = recv.ReadSimulcast(buf, l.rid)
		}
		if err != nil {
			return
		}
		pkts, err := rtcp.Unmarshal(buf[:n])
		if err != nil {
			continue
		}
		for _, p := range pkts {
			if sr, ok := p.(*rtcp.SenderReport); ok && sr.SSRC == l.ssrc {
				l.stats.SenderReport(sr.NTPTime, time.Now().UnixNano())
			}
		}
	}
}

// maxReportedLoss caps the subscribers' loss told to a publisher (out of
// 256): enough for the strongest Opus FEC without one subscriber's broken
// link costing every listener bit rate.
const maxReportedLoss = 64

// isRED reports whether a packet of payload type pt is Opus RED; the
// publisher of a RED track may send some packets as plain Opus.
func (u *UpTrack) isRED(pt uint8) bool {
	return u.redPT != 0 && pt == u.redPT
}

// downstreamLoss is the worst loss fraction (out of 256) a subscriber of
// this track reported lately, capped at maxReportedLoss. An audio
// publisher is told it as its own: its Opus encoder then adds in-band FEC
// (useinbandfec=1) that repairs the subscribers' single losses, which the
// publisher's clean uplink alone would never make it do.
func (u *UpTrack) downstreamLoss() uint8 {
	var worst uint32
	for _, d := range *u.downs.Load() {
		worst = max(worst, d.lossSeen.Load())
	}
	return uint8(min(worst, maxReportedLoss))
}

// feedback asks for lost packets and sends receiver reports when due. It
// runs on the reader goroutine; with no loss it allocates nothing.
func (u *UpTrack) feedback(l *upLayer, now int64) {
	if now >= l.nextNACK {
		l.nextNACK = now + int64(nackInterval)
		if l.nackBuf = l.nack.Missing(l.nackBuf[:0]); len(l.nackBuf) > 0 {
			u.nacksSent.Add(uint64(len(l.nackBuf)))
			u.writeRTCP(&rtcp.TransportLayerNack{MediaSSRC: l.ssrc, Nacks: rtcp.NackPairsFromSequenceNumbers(l.nackBuf)})
		}
	}
	if now >= l.nextRR {
		l.nextRR = now + int64(rrInterval)
		if l.rateSince != 0 && now > l.rateSince {
			l.rate.Store(l.bytes * 8 * 1e9 / uint64(now-l.rateSince))
		}
		l.bytes, l.rateSince = 0, now
		if rep, ok := l.stats.Report(l.ssrc, now); ok {
			if u.kind == webrtc.RTPCodecTypeAudio {
				rep.FractionLost = max(rep.FractionLost, u.downstreamLoss())
			}
			u.writeRTCP(&rtcp.ReceiverReport{Reports: []rtcp.ReceptionReport{rep}})
		}
	}
}

func (u *UpTrack) writeRTCP(p rtcp.Packet) {
	if err := u.toPublisher([]rtcp.Packet{p}); err != nil {
		u.log.Debug("send RTCP to publisher", "err", err)
	}
}

// read receives one layer and hands each packet to every DownTrack. It
// never blocks on a subscriber.
func (u *UpTrack) read(t *webrtc.TrackRemote, l *upLayer) {
	defer u.layerEnded(l)
	frame := newFrameHold(u.kind == webrtc.RTPCodecTypeVideo, func(pkts []*packet) {
		if downs := *u.downs.Load(); len(downs) > 0 {
			u.fanout.forward(downs, pkts, &l.wg)
		}
	})
	defer frame.close()
	var (
		seq = rtpmunger.NewSeqUnwrapper()
		ts  = rtpmunger.NewTSUnwrapper()
		pkt packet
	)
	for {
		buf, h := frame.spareBuf, &frame.spareHdr
		n, _, err := t.Read(buf)
		if err != nil {
			if !errors.Is(err, io.EOF) {
				u.log.Debug("track read ended", "err", err)
			}
			return
		}
		payload, ok := parseRTP(buf[:n], h)
		if !ok {
			continue
		}
		pkt = packet{
			header:   h,
			payload:  payload,
			esn:      seq.Unwrap(uint32(h.SequenceNumber)),
			ets:      ts.Unwrap(h.Timestamp),
			layer:    l.index,
			keyframe: rtpcodec.IsKeyframe(u.codec, payload),
		}
		if u.codec == rtpcodec.VP8 {
			pkt.vp8, _ = rtpcodec.ParseVP8Numbers(payload)
		}
		l.cache.Store(pkt.esn, buf[:n])
		now := time.Now().UnixNano()
		pkt.now = now
		pkt.absSendTime = absSendTime(now)
		l.last.Store(now)
		l.bytes += uint64(n)
		l.nack.Push(pkt.esn)
		l.stats.Update(pkt.esn, h.Timestamp, now)
		u.arrivals.record(buf[:n], now)
		if level, ok := audioLevel(h, u.levelID); ok {
			u.meter.Update(level, now)
		}
		frame.add(pkt, h.Marker)
		u.feedback(l, now)
	}
}

// parseRTP reads a received packet's header into h and returns its
// payload without padding; ok is false for a packet to drop. Everything in
// it is the publisher's to choose (FuzzPublisherRTP).
func parseRTP(b []byte, h *rtp.Header) (payload []byte, ok bool) {
	hl, err := h.Unmarshal(b)
	if err != nil {
		return nil, false
	}
	end := len(b)
	if h.Padding && end > hl {
		end -= int(b[end-1])
		if end < hl {
			return nil, false
		}
	}
	return b[hl:end], true
}

// audioLevel reads the RFC 6464 audio level of a packet whose header
// extensions use id for it (0: not negotiated).
func audioLevel(h *rtp.Header, id uint8) (uint8, bool) {
	if id == 0 || !h.Extension {
		return 0, false
	}
	return audiolevel.ParseLevel(h.GetExtension(id))
}

func (u *UpTrack) layerEnded(l *upLayer) {
	close(l.done)
	u.mu.Lock()
	if u.layers[l.index] == l {
		u.layers[l.index] = nil
	}
	empty := true
	for _, o := range u.layers {
		if o != nil {
			empty = false
		}
	}
	closed := u.closed
	u.mu.Unlock()
	if empty && !closed {
		u.ended(u)
	}
}

// packet is what a DownTrack is handed for each received packet. It points
// into the reader's buffer and is valid only during the call.
type packet struct {
	header   *rtp.Header
	payload  []byte
	esn, ets uint64
	layer    int
	keyframe bool
	// vp8 locates the VP8 picture numbers, read once for all subscribers
	// (picnumbers.go); zero for other codecs.
	vp8 rtpcodec.VP8Numbers
	now int64 // arrival, unix nanoseconds
	// absSendTime is now as the abs-send-time extension, for subscribers'
	// bandwidth estimators (the SFU sends within microseconds of arrival).
	absSendTime [3]byte
}

// addDown adds d to the fan-out; it reports false when u has closed.
func (u *UpTrack) addDown(d *DownTrack) bool {
	u.mu.Lock()
	if u.closed {
		u.mu.Unlock()
		return false
	}
	old := *u.downs.Load()
	next := make([]*DownTrack, len(old), len(old)+1)
	copy(next, old)
	next = append(next, d)
	u.downs.Store(&next)
	u.mu.Unlock()
	u.updateWanted()
	return true
}

func (u *UpTrack) removeDown(d *DownTrack) {
	u.mu.Lock()
	old := *u.downs.Load()
	next := make([]*DownTrack, 0, len(old))
	for _, o := range old {
		if o != d {
			next = append(next, o)
		}
	}
	u.downs.Store(&next)
	u.mu.Unlock()
	u.updateWanted()
}

// updateWanted tells the publisher of a simulcast track which layers its
// subscribers need, so it stops encoding the others.
func (u *UpTrack) updateWanted() {
	if !u.info.Simulcast {
		return
	}
	var mask uint8
	for _, d := range *u.downs.Load() {
		// The layer a subscriber is moving to, and the one it still gets
		// until the switch (which waits for a key frame).
		mask |= 1 << d.wantLayer.Load()
		if cur := d.curLayer.Load(); cur >= 0 {
			mask |= 1 << cur
		}
	}
	u.mu.Lock()
	// A layer not yet seen stays on: pausing the top layer before the
	// browser has started it leaves nothing to switch up to.
	for i, l := range u.layers {
		if u.ladder[i].Known && l == nil {
			mask |= 1 << i
		}
	}
	if (u.told && mask == u.wanted) || u.closed {
		u.mu.Unlock()
		return
	}
	u.wanted, u.told = mask, true
	rids := make([]string, 0, maxLayers)
	for i, spec := range u.ladder {
		if spec.Known && mask&(1<<i) != 0 {
			rids = append(rids, spec.RID)
		}
	}
	u.mu.Unlock()
	u.tell(&LayersWanted{Mid: u.mid, RIDs: rids})
}

// layer returns layer i, or nil.
func (u *UpTrack) layer(i int) *upLayer {
	u.mu.Lock()
	defer u.mu.Unlock()
	if i < 0 || i >= maxLayers {
		return nil
	}
	return u.layers[i]
}

// layerRates returns the bit rate to expect of each layer, 0 for a layer
// the publisher does not send: measured while the layer flows, announced
// (or the default ladder's) while it is paused or not yet started.
func (u *UpTrack) layerRates(now int64) (rates [maxLayers]uint64) {
	u.mu.Lock()
	defer u.mu.Unlock()
	for i, l := range u.layers {
		switch {
		case l != nil && l.live(now) && l.rate.Load() > 0:
			rates[i] = l.rate.Load()
		case l != nil || u.ladder[i].Known:
			rates[i] = u.ladder.Bitrate(i)
		}
	}
	return rates
}

// getLadder returns what is known of the layers.
func (u *UpTrack) getLadder() simulcast.Ladder {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.ladder
}

// live reports whether the layer sent a packet within liveWindow of now.
func (l *upLayer) live(now int64) bool { return now-l.last.Load() < int64(liveWindow) }

// bestLayer returns the highest layer at or below max that is being
// received, else the lowest one received; a layer paused by the publisher
// counts only when no other flows.
func (u *UpTrack) bestLayer(max int) int {
	now := time.Now().UnixNano()
	u.mu.Lock()
	defer u.mu.Unlock()
	for i := min(max, maxLayers-1); i >= 0; i-- {
		if l := u.layers[i]; l != nil && l.live(now) {
			return i
		}
	}
	for _, l := range u.layers {
		if l != nil && l.live(now) {
			return l.index
		}
	}
	for i := min(max, maxLayers-1); i >= 0; i-- {
		if u.layers[i] != nil {
			return i
		}
	}
	for _, l := range u.layers {
		if l != nil {
			return l.index
		}
	}
	return -1
}

// requestKeyframe asks the publisher for a key frame on layer i, at most
// once per pliInterval.
func (u *UpTrack) requestKeyframe(i int, why KeyframeReason) {
	if u.kind != webrtc.RTPCodecTypeVideo {
		return
	}
	l := u.layer(i)
	if l == nil {
		return
	}
	now := time.Now().UnixNano()
	last := l.lastPLI.Load()
	if now-last < int64(pliInterval) || !l.lastPLI.CompareAndSwap(last, now) {
		u.plisHeld.Add(1)
		return
	}
	u.plisSent[why].Add(1)
	if err := u.toPublisher([]rtcp.Packet{&rtcp.PictureLossIndication{MediaSSRC: l.ssrc}}); err != nil {
		u.log.Debug("send PLI", "err", err)
	}
}

// close stops forwarding; the readers end when the publisher connection
// closes or the transceiver stops.
func (u *UpTrack) close() {
	u.mu.Lock()
	wasClosed := u.closed
	u.closed = true
	u.mu.Unlock()
	u.downs.Store(&[]*DownTrack{})
	if !wasClosed {
		u.retire(u)
	}
}
