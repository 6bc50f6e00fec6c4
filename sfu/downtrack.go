package sfu

import (
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/monkeythorn/meet/sfu/packetcache"
	"github.com/monkeythorn/meet/sfu/rtpmunger"
	"github.com/pion/rtcp"
	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"
)

// seqHistory is how many sent packets a DownTrack remembers to answer NACKs.
const seqHistory = 1024

// DownTrack sends one UpTrack to one subscriber. It implements
// webrtc.TrackLocal so Pion negotiates it, and rewrites every packet's
// SSRC, payload type, sequence number and timestamp itself.
type DownTrack struct {
	up    *UpTrack
	sub   *Participant
	id    string
	codec webrtc.RTPCodecParameters // as negotiated with the subscriber

	sender *webrtc.RTPSender
	writer atomic.Pointer[trackWriter] // nil until bound

	mu       sync.Mutex
	munger   rtpmunger.Munger
	current  int // layer being forwarded, -1 before the first key frame
	target   int // layer wanted
	maxLayer int // highest layer the subscriber's tile needs
	history  [seqHistory]sent
	stats    downStats
	hdr      rtp.Header
	rtxBuf   []byte
}

// trackWriter is what Bind gives: where to write and how to label it.
type trackWriter struct {
	w    webrtc.TrackLocalWriter
	ssrc uint32
	pt   uint8
}

// sent maps an outgoing sequence number back to the cached source packet.
type sent struct {
	valid bool
	seq   uint16
	esn   uint64
	layer int8
	ts    uint32
}

func newDownTrack(up *UpTrack, sub *Participant) *DownTrack {
	return &DownTrack{
		up:       up,
		sub:      sub,
		id:       up.info.ID,
		current:  -1,
		target:   maxLayers - 1,
		maxLayer: maxLayers - 1,
		rtxBuf:   make([]byte, packetcache.MaxPacketSize),
	}
}

// ID, RID, StreamID and Kind describe the track to Pion. The stream id is
// the publisher's participant id, so the client can tell whose it is.
func (d *DownTrack) ID() string                { return d.id }
func (d *DownTrack) RID() string               { return "" }
func (d *DownTrack) StreamID() string          { return d.up.owner.id }
func (d *DownTrack) Kind() webrtc.RTPCodecType { return d.up.kind }

// Bind picks the subscriber's payload type for the publisher's codec.
func (d *DownTrack) Bind(ctx webrtc.TrackLocalContext) (webrtc.RTPCodecParameters, error) {
	for _, c := range ctx.CodecParameters() {
		if strings.EqualFold(c.MimeType, d.up.mime) {
			d.codec = c
			d.writer.Store(&trackWriter{w: ctx.WriteStream(), ssrc: uint32(ctx.SSRC()), pt: uint8(c.PayloadType)})
			d.up.requestKeyframe(d.up.bestLayer(d.target))
			return c, nil
		}
	}
	return webrtc.RTPCodecParameters{}, fmt.Errorf("sfu: subscriber does not accept %s", d.up.mime)
}

// Unbind stops writing.
func (d *DownTrack) Unbind(webrtc.TrackLocalContext) error {
	d.writer.Store(nil)
	return nil
}

// setMaxSize picks the highest layer worth sending for a tile of w×h.
func (d *DownTrack) setMaxSize(w, h int) {
	layer := maxLayers - 1
	switch {
	case w <= 0 || h <= 0:
		layer = 0
	case h <= 240:
		layer = 0
	case h <= 480:
		layer = 1
	}
	d.mu.Lock()
	d.maxLayer = layer
	d.target = layer
	d.mu.Unlock()
}

// writeRTP forwards one packet of the UpTrack. It runs on the layer's
// reader goroutine and must not block or allocate.
func (d *DownTrack) writeRTP(p *packet) {
	w := d.writer.Load()
	if w == nil {
		return
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if p.layer != d.current {
		if !d.switchTo(p) {
			if d.current < 0 && p.layer == d.up.bestLayer(d.target) {
				d.stats.drops[DropKeyframeWait]++
			}
			return
		}
	}
	if len(p.payload) == 0 {
		// Padding only: bandwidth probing between the publisher and us.
		d.munger.Drop(p.esn)
		return
	}
	seq, ts, ok := d.munger.Rewrite(p.esn, p.ets)
	if !ok {
		return
	}
	d.history[seq%seqHistory] = sent{valid: true, seq: seq, esn: p.esn, layer: int8(p.layer), ts: ts}
	d.hdr = *p.header
	d.hdr.Extension = false
	d.hdr.Extensions = nil
	d.hdr.Padding = false
	d.hdr.SSRC = w.ssrc
	d.hdr.PayloadType = w.pt
	d.hdr.SequenceNumber = seq
	d.hdr.Timestamp = ts
	if _, err := w.w.WriteRTP(&d.hdr, p.payload); err != nil {
		d.stats.drops[DropWriteError]++
		if !errors.Is(err, io.ErrClosedPipe) {
			d.sub.log.Debug("write RTP", "err", err)
		}
		return
	}
	d.stats.packets++
	d.stats.bytes += uint64(len(p.payload))
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
		d.up.requestKeyframe(want)
		return false
	}
	var gap uint32
	if d.munger.Started() {
		gap = 1
	}
	d.munger.SetSource(p.esn, p.ets, uint16(rand.Uint32()), rand.Uint32(), gap)
	d.current = p.layer
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
		for _, pkt := range pkts {
			switch p := pkt.(type) {
			case *rtcp.PictureLossIndication, *rtcp.FullIntraRequest:
				d.up.requestKeyframe(d.currentLayer())
			case *rtcp.TransportLayerNack:
				d.mu.Lock()
				for _, pair := range p.Nacks {
					d.stats.nacks += uint64(len(pair.PacketList()))
				}
				d.mu.Unlock()
				for _, pair := range p.Nacks {
					for _, seq := range pair.PacketList() {
						d.retransmit(seq)
					}
				}
			}
		}
	}
}

func (d *DownTrack) currentLayer() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.current
}

// retransmit resends the packet sent as seq, if the cache still holds it.
func (d *DownTrack) retransmit(seq uint16) {
	w := d.writer.Load()
	if w == nil {
		return
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	s := d.history[seq%seqHistory]
	if !s.valid || s.seq != seq {
		return
	}
	l := d.up.layer(int(s.layer))
	if l == nil {
		return
	}
	n, ok := l.cache.Get(s.esn, d.rtxBuf)
	if !ok {
		return
	}
	var h rtp.Header
	hl, err := h.Unmarshal(d.rtxBuf[:n])
	if err != nil {
		return
	}
	end := n
	if h.Padding {
		end = n - int(d.rtxBuf[n-1])
	}
	if end < hl {
		return
	}
	out := rtp.Header{Version: 2, Marker: h.Marker, PayloadType: w.pt, SequenceNumber: seq, Timestamp: s.ts, SSRC: w.ssrc}
	if _, err := w.w.WriteRTP(&out, d.rtxBuf[hl:end]); err != nil {
		d.sub.log.Debug("retransmit", "err", err)
		return
	}
	d.stats.rtx++
}
