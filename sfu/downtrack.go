package sfu

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/monkeythorn/meet/sfu/bwe"
	"github.com/monkeythorn/meet/sfu/packetcache"
	"github.com/monkeythorn/meet/sfu/rtpcodec"
	"github.com/monkeythorn/meet/sfu/rtpmunger"
	"github.com/monkeythorn/meet/sfu/rtxbudget"
	"github.com/monkeythorn/meet/sfu/srtpout"
	"github.com/monkeythorn/meet/sfu/udpbatch"
	"github.com/pion/rtcp"
	"github.com/pion/rtp"
	"github.com/pion/sdp/v3"
	"github.com/pion/webrtc/v4"
)

// seqHistory is how many sent packets a DownTrack remembers to answer NACKs.
const seqHistory = 1024

// DownTrack sends one UpTrack to one subscriber. It implements
// webrtc.TrackLocal so Pion negotiates it, and rewrites every packet's
// SSRC, payload type, sequence number and timestamp itself. It works with
// what it is given when built (downLinks), so it can be tested alone.
type DownTrack struct {
	downLinks
	up    *UpTrack // the track it sends: layers, their rates and caches
	id    string
	codec webrtc.RTPCodecParameters // as negotiated with the subscriber

	sender *webrtc.RTPSender
	writer atomic.Pointer[trackWriter] // nil until bound

	mu      sync.Mutex
	munger  rtpmunger.Munger
	current int // layer being forwarded, -1 before the first key frame
	target  int // layer wanted
	// wantLayer and curLayer mirror target and current for
	// UpTrack.updateWanted, which must not take d.mu.
	wantLayer, curLayer atomic.Int32
	maxLayer            int // highest layer the subscriber's tile needs
	tileW, tileH        int // the tile's size in device pixels; -1 = not told
	history             [seqHistory]sent
	stats               downStats

	// Bandwidth: the subscriber's estimate limits video (sfu/bwe).
	budget    bwe.Budget
	congested bool   // dropping video until a key frame fits
	paused    bool   // the subscriber renders no tile: no video at all
	frameTS   uint64 // extended timestamp of the frame being sent
	ext       [1]rtp.Extension
	extVal    [3]byte    // the value ext points at
	lastSent  int64      // unix nanoseconds of the last packet sent
	lastTS    uint32     // its RTP timestamp, for sender reports
	pics      picNumbers // VP8 picture numbers continuous across layers (picnumbers.go)
	hdr       rtp.Header
	rtxBuf    []byte
	rtxSeq    uint16 // the last sequence number on the RTX stream
	// repairPLIAt is when unrepairable loss last asked for a key frame.
	repairPLIAt int64

	// lossSeen is the loss fraction (out of 256) in the subscriber's last
	// receiver report of this track.
	lossSeen atomic.Uint32

	// Probing: padding that lets the subscriber's estimate grow towards
	// the next layer up after a dip (see probe and pad).
	padRate   float64 // bits per second to add; 0 = not probing
	estFell   int64   // unix nanoseconds of the estimate's last fall
	carried   float64 // media and padding sent, smoothed over the liveness ticks
	proven    float64 // the most carried since the link was last congested, decaying
	padSeen   uint64  // stats.padding at the last tick
	remb      uint64  // the subscriber's last estimate, bits per second
	rembPeak  uint64  // its highest since it last fell
	padCredit float64 // bytes of padding due
	padLast   int64   // unix nanoseconds of the last padding decision
	padBuf    [padSize]byte
	picBuf    []byte // a renumbered payload (picnumbers.go)
	// The fast path (egress.go): nil egress or seal means through Pion.
	seal   *srtpout.Sealer // set on the first packet sealed; the SSRC stays sealed
	tcpBuf []byte          // a sealed packet on its way to an ICE-TCP connection
	// Feedback (link.go): what the subscriber's receiver reports say.
	repair  *rtxbudget.Budget // how much and how old repair may be
	lastSeq uint16            // highest sequence number sent
	sentAny bool
	rrSeq   uint16 // highest sequence number the last report had
	// rrHighest are the extended highest sequence numbers the last
	// report gave of the media and the RTX stream (link.go withRTXLoss).
	rrHighest    [2]uint32
	srEcho       uint32 // the LSR of the last receiver report: the sender report it echoed
	rrValid      bool
	sendBps      float64 // rate sent, smoothed over the liveness ticks
	bytesSeen    uint64  // stats.bytes at the last tick
	lossCap      uint64  // layer choice ceiling while the link loses; 0 = none
	lossCapUntil int64   // unix ns when lossCap lapses
}

// Padding packets carry the largest padding RTP allows; probing never adds
// more than padBurst of them after one packet.
const (
	padSize  = 255
	padBurst = 16
)

// Probing pads towards what the next layer needs (probeOver of it), at
// most probeStep times the limit: a receiver-side estimate (REMB) grows
// only while what arrives is close to it, so without padding it never
// rises above the layer it is sent. A step of 1.5 recovered faster but
// overfilled a full link by a quarter each time it probed.
const (
	probeStep = 1.2
	probeOver = 1.05
	// probeSettle is how long after the estimate last fell (by 5 % or
	// more) no padding is added: a receiver-side estimate follows a
	// narrower link down over a few seconds, and padding to a stale
	// estimate overfilled the link (freezes in the 500 kbit/s test).
	// Every fall waits the same: doubling it after each probe the link
	// refused (up to 32 s) kept a link back after 20 s at 300 kbit/s
	// waiting up to 16 s for its first probe, and the freezes that
	// probing every 4 s seemed to cause at 500 kbit/s were the picture
	// numbers of the layer switches it led to (picnumbers.go).
	probeSettle = 4 * time.Second
)

// trackWriter is what Bind gives: where to write and how to label it.
type trackWriter struct {
	w    webrtc.TrackLocalWriter
	ssrc uint32
	pt   uint8
	// absID and tccID are the ids of the abs-send-time and the
	// transport-wide sequence number extensions; 0 when not negotiated.
	// A packet carries one: the sequence number where the subscriber
	// takes transport-wide feedback (sfu/sendside), else the send time
	// its browser estimates from (REMB).
	absID, tccID uint8
	// plainPT is Opus on an Opus RED track, for the packets the
	// publisher sent as plain Opus (0 on other tracks: pt). A subscriber
	// without RED (stripRED) gets each RED packet's primary block as
	// plain Opus.
	plainPT  uint8
	stripRED bool
	// rtxSSRC and rtxPT are the subscriber's RTX stream (RFC 4588) for
	// retransmissions and padding; 0: none negotiated, both go on the
	// media stream.
	rtxSSRC uint32
	rtxPT   uint8
}

// payload maps a packet's payload type and payload to this subscriber.
// red says the publisher sent it as RED; a publisher may interleave plain
// Opus. It reports false for RED with no primary block.
func (w *trackWriter) payload(red bool, p []byte) (uint8, []byte, bool) {
	switch {
	case !red && w.plainPT == 0:
		return w.pt, p, true
	case !red:
		return w.plainPT, p, true
	case !w.stripRED:
		return w.pt, p, true
	}
	prim, ok := rtpcodec.REDPrimary(p)
	return w.plainPT, prim, ok
}

// sent maps an outgoing sequence number back to the cached source packet.
type sent struct {
	valid bool   // a media packet that can be resent
	out   bool   // a packet went out under ext: media or padding
	ext   uint64 // the outgoing extended sequence number
	seq   uint16
	esn   uint64
	layer int8
	ts    uint32
	at    int64 // unix nanoseconds of the first sending
	rtxAt int64 // unix nanoseconds of the last retransmission
	// stamp is the extension the packet carried, so that a retransmission
	// on the media stream is the same SRTP plaintext under the same nonce
	// (AES-GCM must never seal two different plaintexts with one key and
	// nonce).
	stamp stamp
	pics  picDelta // VP8 picture numbers: what was added to the publisher's
}

// sentAs reports whether a packet went out under the outgoing extended
// sequence number ext.
func (s *sent) sentAs(ext uint64) bool { return s.out && s.ext == ext }

// rtxMinInterval is the shortest time between two retransmissions of one
// packet: a subscriber repeats its NACKs until the packet arrives, and
// answering each repeat on a loaded server only feeds the loss.
const rtxMinInterval = 100 * time.Millisecond

// maxRTXPerNACK bounds the retransmissions one RTCP datagram can trigger.
const maxRTXPerNACK = 64

// downLinks are a DownTrack's collaborators.
type downLinks struct {
	// batch groups the datagrams of one NACK answer into one send
	// (*udpbatch.Conn); forwarding is batched by the fan-out.
	batch interface {
		Begin()
		End()
	}
	// keyframes asks the publisher for a key frame on a layer (the
	// UpTrack, which throttles the requests of all its subscribers).
	keyframes interface {
		requestKeyframe(layer int, why KeyframeReason)
	}
	// egress is the subscriber connection's fast path; nil: through Pion.
	egress *egress
	// live is the subscriber's liveness (liveness.go): its receiver
	// reports feed it, its stall level stops packets. nil: never stalled.
	live *liveness
	// tcc is the subscriber connection's send-side estimate; nil: the
	// subscriber's REMB alone.
	tcc *transportCC
	log *slog.Logger
}

func newDownTrack(up *UpTrack, links downLinks) *DownTrack {
	d := &DownTrack{
		downLinks: links,
		up:        up,
		id:        up.info.ID,
		current:   -1,
		target:    maxLayers - 1,
		maxLayer:  maxLayers - 1,
		tileW:     -1,
		tileH:     -1,
		rtxBuf:    make([]byte, packetcache.MaxPacketSize),
		picBuf:    make([]byte, packetcache.MaxPacketSize),
		repair:    rtxbudget.New(),
	}
	d.padBuf[padSize-1] = padSize
	d.wantLayer.Store(int32(d.target))
	d.curLayer.Store(-1)
	return d
}

// ID, RID, StreamID and Kind describe the track to Pion. The stream id is
// the publisher's participant id, so the client can tell whose it is.
func (d *DownTrack) ID() string                { return d.id }
func (d *DownTrack) RID() string               { return "" }
func (d *DownTrack) StreamID() string          { return d.up.info.Participant }
func (d *DownTrack) Kind() webrtc.RTPCodecType { return d.up.kind }

// Bind picks the subscriber's payload type for the publisher's codec. A
// subscriber without Opus RED gets a RED track as plain Opus.
func (d *DownTrack) Bind(ctx webrtc.TrackLocalContext) (webrtc.RTPCodecParameters, error) {
	params := ctx.CodecParameters()
	c, ok := findCodec(params, d.up.mime)
	opus, hasOpus := findCodec(params, webrtc.MimeTypeOpus)
	strip := !ok && d.up.codec == rtpcodec.RED && hasOpus
	if strip {
		c, ok = opus, true
	}
	if !ok {
		return webrtc.RTPCodecParameters{}, fmt.Errorf("sfu: subscriber does not accept %s", d.up.mime)
	}
	d.codec = c
	tw := &trackWriter{w: ctx.WriteStream(), ssrc: uint32(ctx.SSRC()), pt: uint8(c.PayloadType), stripRED: strip}
	if d.up.codec == rtpcodec.RED && hasOpus {
		tw.plainPT = uint8(opus.PayloadType)
	}
	if rtx, ok := findRTX(params, c.PayloadType); ok && ctx.SSRCRetransmission() != 0 {
		tw.rtxSSRC, tw.rtxPT = uint32(ctx.SSRCRetransmission()), uint8(rtx.PayloadType)
	}
	for _, e := range ctx.HeaderExtensions() {
		switch e.URI {
		case sdp.ABSSendTimeURI:
			tw.absID = uint8(e.ID)
		case sdp.TransportCCURI:
			if d.tcc != nil {
				tw.tccID = uint8(e.ID)
			}
		}
	}
	d.writer.Store(tw)
	d.keyframes.requestKeyframe(d.up.bestLayer(d.target), KeyframeStart)
	return c, nil
}

// findRTX finds the RTX codec whose apt names payload type pt.
func findRTX(params []webrtc.RTPCodecParameters, pt webrtc.PayloadType) (webrtc.RTPCodecParameters, bool) {
	want := fmt.Sprintf("apt=%d", pt)
	for _, c := range params {
		if !strings.EqualFold(c.MimeType, webrtc.MimeTypeRTX) {
			continue
		}
		for _, f := range strings.Split(c.SDPFmtpLine, ";") {
			if strings.TrimSpace(f) == want {
				return c, true
			}
		}
	}
	return webrtc.RTPCodecParameters{}, false
}

func findCodec(params []webrtc.RTPCodecParameters, mime string) (webrtc.RTPCodecParameters, bool) {
	for _, c := range params {
		if strings.EqualFold(c.MimeType, mime) {
			return c, true
		}
	}
	return webrtc.RTPCodecParameters{}, false
}

// Unbind stops writing.
func (d *DownTrack) Unbind(webrtc.TrackLocalContext) error {
	d.writer.Store(nil)
	return nil
}

// setMaxSize picks the highest layer worth sending for a tile of w×h
// device pixels, from the sizes the publisher announced.
func (d *DownTrack) setMaxSize(w, h int) {
	hidden := w <= 0 || h <= 0
	d.mu.Lock()
	d.tileW, d.tileH = max(w, 0), max(h, 0)
	d.maxLayer = d.tileLayer()
	if d.paused && !hidden {
		// Resume at a key frame, as after congestion.
		d.congested = true
		d.keyframes.requestKeyframe(d.current, KeyframeStart)
	}
	d.paused = hidden
	changed := d.retarget()
	d.mu.Unlock()
	d.layersChanged(changed)
}

// tileLayer is the layer the tile needs; d.mu held.
func (d *DownTrack) tileLayer() int {
	if d.tileW < 0 {
		return maxLayers - 1 // not told yet: the best the estimate allows
	}
	ladder := d.up.getLadder()
	if l := ladder.ForTile(d.tileW, d.tileH); l >= 0 {
		return l
	}
	return maxLayers - 1
}

// reconsider chooses the layer again after the publisher announced new
// encodings (its capture size changed with the room's size).
func (d *DownTrack) reconsider() {
	d.mu.Lock()
	d.maxLayer = d.tileLayer()
	changed := d.retarget()
	d.mu.Unlock()
	d.layersChanged(changed)
}

// setEstimate applies the subscriber's bandwidth estimate (REMB).
//
// A receiver-side estimate starts low, about 5 s into the call, from what
// has arrived so far, and grows by at most ~8 % a second: taken as it
// comes, a first report of 360 kbit/s moved two people on a perfect link
// down to 320x180 (1 run in 4) and held them there. It is a limit only
// once the link shows congestion (calm): until then the layer flowing
// stays, the frames it sends are within budget, and what the link carries
// counts as estimated (limit), so padding can probe above the estimate.
func (d *DownTrack) setEstimate(bps uint64) {
	d.mu.Lock()
	// A fall is measured from the highest estimate since the last one, so
	// that steps of 3-4 % (a browser reports each at once) add up.
	fell := bps < d.rembPeak-d.rembPeak/20
	d.mu.Unlock()
	d.applyEstimate(bps, fell, EstimateREMB)
}

// applyEstimate sets the subscriber's estimate: its REMB, or the SFU's
// own from transport-wide feedback (transportcc.go). fell says the link
// showed congestion: the estimate was lowered, not only moved.
func (d *DownTrack) applyEstimate(bps uint64, fell bool, from EstimateSource) {
	d.mu.Lock()
	d.stats.estimates[from]++
	now := time.Now().UnixNano()
	if fell {
		d.estFell, d.proven, d.rembPeak = now, 0, bps
	} else {
		d.rembPeak = max(d.rembPeak, bps)
	}
	d.remb = bps
	d.budget.SetRate(d.limit(now))
	changed := d.retarget()
	d.mu.Unlock()
	d.layersChanged(changed)
}

// limit is the rate the subscriber's video may use: its estimate, or on
// a calm link at least the most it has carried of this track (media and
// padding) since it was last congested. d.mu held.
func (d *DownTrack) limit(now int64) uint64 {
	if d.remb == 0 || !d.calm(now) {
		return d.remb
	}
	return max(d.remb, uint64(d.sendBps/bwe.Headroom), uint64(d.proven))
}

// calm reports whether the subscriber's link has shown no congestion
// lately: its estimate has not fallen and it loses nothing. d.mu held.
func (d *DownTrack) calm(now int64) bool {
	return d.lossCap == 0 && now-d.estFell >= int64(probeSettle)
}

// retarget picks the layer to forward from the tile size and the bandwidth
// estimate; the switch itself waits for a key frame. On a calm link it
// never picks a layer below the one flowing. Called with d.mu held; it
// reports whether the layer wanted changed.
func (d *DownTrack) retarget() (changed bool) {
	now := time.Now().UnixNano()
	rates := d.up.layerRates(now)
	target := bwe.PickLayer(rates[:], d.layerEstimate(), d.maxLayer)
	if target < 0 {
		target = d.maxLayer
	}
	if d.current >= 0 && target < d.current && d.current <= d.maxLayer && d.calm(now) {
		target = d.current
	}
	if target != d.target {
		d.target = target
		d.wantLayer.Store(int32(target))
		d.keyframes.requestKeyframe(d.up.bestLayer(target), KeyframeSwitch)
		changed = true
	}
	d.probe(rates[:])
	return changed
}

// layersChanged tells the UpTrack, after d.mu is released, that the layers
// this subscriber needs changed, so it can pause or resume layers at the
// publisher.
func (d *DownTrack) layersChanged(changed bool) {
	if changed {
		d.up.updateWanted()
	}
}

// probe decides how much padding to add: while the tile needs a higher
// layer than the limit allows and the current layer flows within it, up
// to probeStep times the limit. On a calm link what is carried raises the
// limit (see limit), so each step the link takes without the estimate
// falling or packets lost is the base of the next: the limit grows by
// about a third a second, where a receiver-side estimate grows by 8 %.
// Called with d.mu held.
func (d *DownTrack) probe(rates []uint64) {
	d.padRate = 0
	est := float64(d.budget.Rate())
	next := d.target + 1
	if est == 0 || d.paused || d.congested || d.lossCap > 0 || d.current != d.target || next > d.maxLayer || next >= len(rates) || rates[next] == 0 {
		return
	}
	if time.Now().UnixNano()-d.estFell < int64(probeSettle) {
		return // a falling estimate lags the link: padding now would overfill it
	}
	// Up to what the next layer needs (a little over, so that what is
	// carried reaches it), or probeStep times the limit.
	fill := min(float64(rates[next])/bwe.Headroom*probeOver, est*probeStep)
	if pad := fill - float64(rates[d.current]); pad > 0 {
		d.padRate = pad
	}
}

// pad sends the padding due after the packet just forwarded (the end of a
// frame), stamped like it. Called with d.mu held; allocates nothing.
func (d *DownTrack) pad(w *trackWriter, p *packet, out *udpbatch.Batch) {
	if d.padLast != 0 {
		d.padCredit = min(d.padCredit+d.padRate/8*float64(p.now-d.padLast)/1e9, padBurst*(padSize+rtpHeaderOverhead))
	}
	d.padLast = p.now
	for n := 0; n < padBurst && d.padCredit >= padSize; n++ {
		d.hdr.Marker = false
		d.hdr.Padding = true
		if w.rtxSSRC != 0 {
			// On the RTX stream: a lost probe leaves no gap in the media
			// stream for the browser to ask about and wait for.
			d.rtxSeq++
			d.hdr.SSRC, d.hdr.PayloadType, d.hdr.SequenceNumber = w.rtxSSRC, w.rtxPT, d.rtxSeq
		} else {
			seq, ts, ok := d.munger.Pad()
			if !ok {
				return
			}
			ext, _ := d.munger.LastOut()
			d.history[seq%seqHistory] = sent{out: true, ext: ext, seq: seq, at: p.now} // not valid: nothing to resend
			d.lastSeq = seq
			d.hdr.SequenceNumber, d.hdr.Timestamp = seq, ts
		}
		if w.tccID != 0 {
			// Each probe packet is numbered: the feedback on it is
			// what the estimate grows from.
			d.putStamp(&d.hdr, d.stamp(w, [3]byte{}, padSize, p.now))
		}
		if err := d.emit(w, &d.hdr, d.padBuf[:], out); err != nil {
			d.stats.drops[DropWriteError]++
			return
		}
		d.padCredit -= padSize + rtpHeaderOverhead // padding is not in the budget: it is the first to stop
		d.stats.padding++
	}
}

// Congestion thresholds, in seconds of the subscriber's estimate that
// sending may run ahead of it. A falling estimate moves the subscriber down
// a layer at the next key frame (retarget); meanwhile frames keep flowing.
// Only when sending has run maxDebt ahead are whole frames dropped, and
// video resumes at a key frame once the debt is under resumeDebt: dropping
// at the first overrun made drop, key frame, overrun cycles. The lowest
// layer is dropped only while the link loses heavily (rtxbudget.HeavyLoss,
// a link too narrow for it): a receiver-side estimate lags far behind
// after a dip (86 kbit/s on a 500 kbit/s link, under the 130 kbit/s of
// the lowest layer) and falls under jitter (41 kbit/s at 100 ± 20 ms),
// and dropping to it froze video that the link carried.
const (
	maxDebt    = 1.0
	resumeDebt = 0.25
)

// congestion decides, at each new video frame, whether the frame may go
// out under the subscriber's estimate. Once a frame is dropped, the stream
// resumes only at a key frame, so the decoder never sees a broken
// reference chain. Called with d.mu held; reports whether p must be
// dropped.
func (d *DownTrack) congestion(p *packet) bool {
	if d.up.kind != webrtc.RTPCodecTypeVideo {
		return false
	}
	if p.ets != d.frameTS {
		d.frameTS = p.ets
		debt := d.budget.Debt(p.now)
		switch {
		case d.congested && debt <= resumeDebt && p.keyframe:
			d.congested = false
		case d.congested && debt <= resumeDebt:
			d.up.requestKeyframe(d.current, KeyframeCongestion)
		case !d.congested && debt > maxDebt && !d.spared():
			d.congested = true
		}
	}
	if d.congested {
		return true
	}
	d.budget.Spend(len(p.payload)+rtpHeaderOverhead, p.now)
	if d.spared() {
		// Not dropped, it may run past maxDebt: the debt stops there, so
		// that once it is dropped (a cut, heavy loss) it resumes within
		// resumeDebt of the estimate, not after as long as the debt took
		// to build (an 8 s stall after a 5 s cut).
		d.budget.Cap(maxDebt)
	}
	return false
}

// spared reports whether the frames flowing are never dropped for the
// estimate: the lowest layer, on a link that does not lose heavily.
// d.mu held.
func (d *DownTrack) spared() bool {
	return d.current <= 0 && !d.repair.Heavy()
}

// rtpHeaderOverhead approximates the RTP, SRTP, UDP and IP header bytes of
// a packet for the bandwidth budget.
const rtpHeaderOverhead = 12 + 16 + 8 + 20

// writeRTP forwards one packet of the UpTrack, sealed into out on the
// fast path. It runs on the layer's reader goroutine (or a fan-out
// worker) and must not block or allocate.
func (d *DownTrack) writeRTP(p *packet, out *udpbatch.Batch) {
	w := d.writer.Load()
	if w == nil {
		return
	}
	d.mu.Lock()
	switched := d.send(w, p, out)
	d.mu.Unlock()
	// The old layer may now be paused at the publisher.
	d.layersChanged(switched)
}

// send is writeRTP with d.mu held; it reports whether the packet moved
// the subscriber from one layer to another.
func (d *DownTrack) send(w *trackWriter, p *packet, out *udpbatch.Batch) (switched bool) {
	newLayer := p.layer != d.current
	if newLayer {
		switched = d.current >= 0
		if !d.switchTo(p) {
			if d.current < 0 && p.layer == d.up.bestLayer(d.target) {
				d.stats.drops[DropKeyframeWait]++
			}
			return false
		}
	}
	if len(p.payload) == 0 {
		// Padding only: bandwidth probing between the publisher and us.
		d.munger.Drop(p.esn)
		return
	}
	if reason, drop := d.withheld(p); drop {
		d.munger.Drop(p.esn)
		d.stats.drops[reason]++
		return
	}
	if d.pathless() {
		d.munger.Drop(p.esn)
		d.stats.drops[DropWriteError]++
		return
	}
	red := d.up.isRED(p.header.PayloadType)
	pt, payload, ok := w.payload(red, p.payload)
	if !ok {
		d.munger.Drop(p.esn)
		d.stats.drops[DropMalformed]++
		return
	}
	seq, ts, ok := d.munger.Rewrite(p.esn, p.ets)
	if !ok {
		return
	}
	ext := d.munger.Out(p.esn)
	if last, _ := d.munger.LastOut(); ext+seqHistory <= last || d.history[ext%seqHistory].sentAs(ext) {
		// An older packet whose number went out already (a duplicate,
		// or one the numbering now maps onto another after a drop or a
		// probe), or too old to tell: sending it would seal a different
		// packet under an SRTP index used before, which AES-GCM must
		// never do. A publisher chooses its sequence numbers freely.
		d.stats.drops[DropStale]++
		return
	}
	var pics picDelta
	if p.vp8.HasPictureID() || p.vp8.HasTL0PicIdx() {
		payload, pics = d.renumber(payload, p.vp8, newLayer)
	}
	st := d.stamp(w, p.absSendTime, len(payload), p.now)
	d.history[seq%seqHistory] = sent{valid: true, out: true, ext: ext, seq: seq, esn: p.esn, layer: int8(p.layer), ts: ts, stamp: st, at: p.now, pics: pics}
	d.hdr = *p.header
	d.hdr.CSRC = nil       // as on a retransmission, which must be the same bytes
	d.putStamp(&d.hdr, st) // the stamp is the only extension
	d.hdr.Padding = false
	d.hdr.SSRC = w.ssrc
	d.hdr.PayloadType = pt
	d.hdr.SequenceNumber = seq
	d.hdr.Timestamp = ts
	if err := d.emit(w, &d.hdr, payload, out); err != nil {
		d.stats.drops[DropWriteError]++
		if !errors.Is(err, io.ErrClosedPipe) {
			d.log.Debug("write RTP", "err", err)
		}
		return
	}
	d.stats.packets++
	d.stats.bytes += uint64(len(payload))
	switch {
	case red && w.stripRED:
		d.stats.redAsOpus++
	case red:
		d.stats.red++
	}
	d.lastSent, d.lastTS = p.now, ts
	d.lastSeq, d.sentAny = seq, true
	if d.padRate > 0 && p.header.Marker {
		d.pad(w, p, out)
	} else if d.padRate == 0 {
		d.padCredit, d.padLast = 0, 0
	}
	return
}

// withheld reports whether a media packet must not reach this subscriber,
// and why. Called with d.mu held.
func (d *DownTrack) withheld(p *packet) (DropReason, bool) {
	switch {
	case d.paused && d.up.kind == webrtc.RTPCodecTypeVideo:
		return DropPaused, true // the subscriber shows no tile for this track
	case d.stalled():
		return DropStalled, true
	case d.congestion(p):
		return DropCongestion, true
	}
	return 0, false
}

// stamp is the one header extension a packet carries (see trackWriter):
// its id, length and value; id 0 is none.
type stamp struct {
	id, n uint8
	v     [3]byte
}

// stamp numbers a packet of size payload bytes sent at now on the
// subscriber's transport-wide sequence, or gives it the send time abs,
// as w negotiated. Called with d.mu held.
func (d *DownTrack) stamp(w *trackWriter, abs [3]byte, size int, now int64) stamp {
	switch {
	case w.tccID != 0:
		seq := d.tcc.history.Record(size+rtpHeaderOverhead, now)
		return stamp{id: w.tccID, n: 2, v: [3]byte{byte(seq >> 8), byte(seq)}}
	case w.absID != 0:
		return stamp{id: w.absID, n: 3, v: abs}
	}
	return stamp{}
}

// putStamp sets h's only extension to st (none for a zero st).
// Extensions is set to d's own one-slot array, so SetExtension appends
// without allocating and never touches the publisher's packet. Called
// with d.mu held.
func (d *DownTrack) putStamp(h *rtp.Header, st stamp) {
	h.Extension, h.Extensions = false, nil
	if st.id == 0 {
		return
	}
	d.extVal = st.v
	h.Extensions = d.ext[:0]
	_ = h.SetExtension(st.id, d.extVal[:st.n])
}

// absSendTime encodes a unix time in nanoseconds as the 24-bit, 6.18 fixed
// point seconds of the abs-send-time header extension.
func absSendTime(now int64) [3]byte {
	secs, frac := uint64(now/1e9), uint64(now%1e9)
	v := (secs<<18 | frac<<18/1e9) & 0xFFFFFF
	return [3]byte{byte(v >> 16), byte(v >> 8), byte(v)}
}

func (d *DownTrack) clockRate() uint32 {
	if d.codec.ClockRate == 0 {
		return 90000
	}
	return d.codec.ClockRate
}

// switchTo decides whether p, from a layer other than the current one,
// starts the stream or a layer switch. Video switches only on a key frame;
// until one comes, the old layer keeps flowing.
func (d *DownTrack) switchTo(p *packet) bool {
	want := d.up.bestLayer(d.target)
	if p.layer != want {
		return false
	}
	if !p.keyframe {
		d.keyframes.requestKeyframe(want, KeyframeSwitch)
		return false
	}
	// Layers have unrelated timestamp bases: continue the subscriber's
	// timeline by the wall-clock time since the last packet sent.
	var gap uint32
	if d.munger.Started() {
		elapsed := max(p.now-d.lastSent, 0)
		gap = max(uint32(elapsed*int64(d.clockRate())/1e9), 1)
	}
	d.munger.SetSource(p.esn, p.ets, uint16(rand.Uint32()), rand.Uint32(), gap)
	d.current = p.layer
	d.curLayer.Store(int32(p.layer))
	return true
}

// readRTCP handles the subscriber's feedback: NACKs are answered from the
// cache, key frame requests go to the publisher.
func (d *DownTrack) readRTCP() {
	for {
		pkts, _, err := d.sender.ReadRTCP()
		if err != nil {
			return
		}
		d.handleRTCP(pkts)
	}
}

// handleRTCP acts on one compound RTCP packet from the subscriber. Every
// field is the client's to choose (FuzzSubscriberRTCP). The retransmission
// budget is per compound packet: one datagram holding many NACKs must not
// buy more resends than one NACK does.
func (d *DownTrack) handleRTCP(pkts []rtcp.Packet) {
	budget := maxRTXPerNACK
	for _, pkt := range pkts {
		switch p := pkt.(type) {
		case *rtcp.ReceiverEstimatedMaximumBitrate:
			d.setEstimate(rembRate(p.Bitrate))
		case *rtcp.TransportLayerCC:
			if d.tcc != nil {
				d.tcc.feedback(p, time.Now())
			}
		case *rtcp.PictureLossIndication, *rtcp.FullIntraRequest:
			d.keyframes.requestKeyframe(d.currentLayer(), KeyframeSubscriber)
		case *rtcp.TransportLayerNack:
			budget = d.answerNACK(p, budget)
		case *rtcp.ReceiverReport:
			d.noteLoss(p.Reports)
			d.onReceiverReport(p)
		}
	}
}

// noteLoss keeps the loss the subscriber reports of this track, for the
// publisher's audio encoder (UpTrack.downstreamLoss).
func (d *DownTrack) noteLoss(reports []rtcp.ReceptionReport) {
	w := d.writer.Load()
	if w == nil {
		return
	}
	for _, r := range reports {
		if r.SSRC == w.ssrc {
			d.lossSeen.Store(uint32(r.FractionLost))
		}
	}
}

// maxREMB caps a subscriber's estimate: REMB can express up to 2^81 bit/s,
// past what a uint64 holds, and no link the SFU serves is faster.
const maxREMB = 100e9

// rembRate turns a REMB bitrate into bits per second within [0, maxREMB].
func rembRate(bps float32) uint64 {
	if !(bps > 0) { // also NaN
		return 0
	}
	return uint64(min(float64(bps), maxREMB))
}

func (d *DownTrack) currentLayer() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.current
}

// repairPLIInterval is how often at most a subscriber's unrepairable loss
// asks its publisher for a key frame (each layer is also asked at most
// once per pliInterval whatever asks).
const repairPLIInterval = time.Second

// unrepairable notes that a packet of layer the subscriber asked for
// cannot be resent (too old, over the repair budget, or no longer
// cached). Its video cannot be decoded past the gap until a key frame,
// and a browser asks for one only after waiting up to 3 s for the frame
// (5 % loss with 100 ± 20 ms stalled video for 3 s), so the SFU asks at
// once. Called with d.mu held.
func (d *DownTrack) unrepairable(layer int, now int64) {
	if d.up.kind != webrtc.RTPCodecTypeVideo || now-d.repairPLIAt < int64(repairPLIInterval) {
		return
	}
	d.repairPLIAt = now
	d.keyframes.requestKeyframe(layer, KeyframeRepair)
}

// answerNACK resends the packets a subscriber asked for, in one send
// batch, at most budget of them and each at most once per rtxMinInterval;
// it returns the budget left.
func (d *DownTrack) answerNACK(p *rtcp.TransportLayerNack, budget int) int {
	d.batch.Begin()
	defer d.batch.End()
	var out *udpbatch.Batch
	if d.egress != nil {
		out = d.egress.batches.get()
		defer d.egress.batches.put(out)
	}
	now := time.Now().UnixNano()
	var asked uint64
	for _, pair := range p.Nacks {
		pair.Range(func(seq uint16) bool {
			asked++
			if budget > 0 && d.retransmit(seq, now, out) {
				budget--
			}
			return true
		})
	}
	d.mu.Lock()
	d.stats.nacks += asked
	d.mu.Unlock()
	return budget
}

// retransmit resends the packet sent as seq, if the cache still holds it
// and it was not resent lately; it reports whether it sent.
func (d *DownTrack) retransmit(seq uint16, now int64, out *udpbatch.Batch) bool {
	w := d.writer.Load()
	if w == nil {
		return false
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	s := &d.history[seq%seqHistory]
	if !s.valid || s.seq != seq || now-s.rtxAt < int64(rtxMinInterval) {
		return false
	}
	l := d.up.layer(int(s.layer))
	if l == nil {
		return false
	}
	n, ok := l.cache.Get(s.esn, d.rtxBuf)
	if !ok {
		d.unrepairable(int(s.layer), now)
		return false
	}
	var h rtp.Header
	hl, err := h.Unmarshal(d.rtxBuf[:n])
	if err != nil {
		return false
	}
	end := n
	if h.Padding {
		end = n - int(d.rtxBuf[n-1])
	}
	if end < hl {
		return false
	}
	if v := d.repair.Allow(end-hl+rtpHeaderOverhead, time.Unix(0, s.at), time.Unix(0, now)); v != rtxbudget.Send {
		d.stats.rtxSkipped[v]++
		d.unrepairable(int(s.layer), now)
		return false
	}
	pt, payload, ok := w.payload(d.up.isRED(h.PayloadType), d.rtxBuf[hl:end])
	if !ok {
		return false
	}
	renumberResent(payload, s.pics)
	s.rtxAt = now
	rh := rtp.Header{Version: 2, Marker: h.Marker, PayloadType: pt, SequenceNumber: seq, Timestamp: s.ts, SSRC: w.ssrc}
	d.putStamp(&rh, s.stamp)
	if w.rtxSSRC != 0 {
		// RFC 4588: the original sequence number, then the payload, on
		// the RTX stream's own numbers. A new SRTP index, so the send
		// time can be now's.
		binary.BigEndian.PutUint16(d.rtxBuf[hl-2:hl], seq)
		payload = d.rtxBuf[hl-2 : end]
		d.rtxSeq++
		rh.SSRC, rh.PayloadType, rh.SequenceNumber = w.rtxSSRC, w.rtxPT, d.rtxSeq
		d.putStamp(&rh, d.stamp(w, absSendTime(now), len(payload), now))
	}
	if err := d.emit(w, &rh, payload, out); err != nil {
		d.log.Debug("retransmit", "err", err)
		return false
	}
	d.stats.rtx++
	d.stats.rtxBytes += uint64(len(payload))
	return true
}
