package load

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"sync/atomic"
	"time"

	"github.com/monkeythorn/meet/bench"
	"github.com/monkeythorn/meet/e2ee"
	"github.com/monkeythorn/meet/signaling"
	"github.com/pion/rtcp"
	"github.com/pion/rtp"
	"github.com/pion/sdp/v3"
	"github.com/pion/webrtc/v4"
)

// maxPayload is the VP8 RTP payload size, descriptor included: with the
// RTP header, extensions and the SRTP tag, packets are about 1.1 kB.
const maxPayload = 1100

// benchJoinSalt is the join salt of every load-generator participant (all
// zero). Real clients draw one per join and announce it in their sealed
// profile (docs/e2ee.md §3, §5.1); the load generator's publishers and
// subscribers are one program and agree on this one instead, so they
// exchange no profiles. Browsers in a bench room cannot verify its media.
func benchJoinSalt() e2ee.JoinSalt { return e2ee.JoinSalt{} }

// simulcastLayers are the rids a simulcast publisher sends, lowest first,
// with each layer's share of --video (the top layer's bit rate), about the
// ratios browsers use for 720p/360p/180p.
var simulcastLayers = []struct {
	rid   string
	share float64
}{{"q", 0.1}, {"h", 0.3}, {"f", 1}}

// layer is one RTP stream a publisher sends.
type layer struct {
	rid      string
	track    *webrtc.TrackLocalStaticRTP
	src      *bench.FrameSource
	seq      uint16
	ts       uint32
	frameNo  uint32
	forceKey atomic.Bool
	ivs      *e2ee.IVSequence
}

// publisher sends one video track, simulcast or not.
type publisher struct {
	*peer
	layers   []*layer
	sender   *webrtc.RTPSender
	midExt   uint8
	ridExt   uint8
	mid      string
	key      *e2ee.SenderKey // nil without E2EE
	epoch    time.Time
	frames   atomic.Int64
	answered chan struct{}
}

type publisherConfig struct {
	wsURL, token, room string
	videoBps           int64
	simulcast          bool
	roomKey            *e2ee.RoomKey
	epoch              time.Time
	seed               uint64
	localIP            net.IP // the address to gather candidates on
}

func startPublisher(ctx context.Context, cfg publisherConfig) (*publisher, error) {
	api, err := newAPI(true, clientOptions{LocalIP: cfg.localIP}, nil)
	if err != nil {
		return nil, err
	}
	p, err := newPeer(ctx, api, cfg.wsURL, cfg.token, cfg.room, signaling.PCPub)
	if err != nil {
		return nil, err
	}
	pub := &publisher{peer: p, epoch: cfg.epoch, answered: make(chan struct{})}
	if err := pub.setup(cfg); err != nil {
		p.close()
		return nil, err
	}
	return pub, nil
}

func (pub *publisher) setup(cfg publisherConfig) error {
	if cfg.roomKey != nil {
		k, err := cfg.roomKey.Frame(pub.id, e2ee.SourceCamera, benchJoinSalt())
		if err != nil {
			return err
		}
		pub.key = k
	}
	layers := simulcastLayers[2:]
	if cfg.simulcast {
		layers = simulcastLayers
	}
	vp8 := webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeVP8, ClockRate: 90000}
	for i, l := range layers {
		var opts []func(*webrtc.TrackLocalStaticRTP)
		rid := ""
		if cfg.simulcast {
			rid = l.rid
			opts = append(opts, webrtc.WithRTPStreamID(rid))
		}
		tr, err := webrtc.NewTrackLocalStaticRTP(vp8, "video", pub.id, opts...)
		if err != nil {
			return err
		}
		ly := &layer{rid: rid, track: tr, seq: uint16(cfg.seed) + uint16(i)*7919, ivs: e2ee.NewIVSequence(),
			src: bench.NewFrameSource(bench.FrameConfig{Bitrate: int64(float64(cfg.videoBps) * l.share), Seed: cfg.seed*3 + uint64(i)})}
		pub.layers = append(pub.layers, ly)
		if i == 0 {
			t, err := pub.pc.AddTransceiverFromTrack(tr, webrtc.RTPTransceiverInit{Direction: webrtc.RTPTransceiverDirectionSendonly})
			if err != nil {
				return err
			}
			pub.sender = t.Sender()
		} else if err := pub.sender.AddEncoding(tr); err != nil {
			return err
		}
	}
	pub.serve(pub.handle)
	offer, err := pub.pc.CreateOffer(nil)
	if err != nil {
		return err
	}
	if err := pub.pc.SetLocalDescription(offer); err != nil {
		return err
	}
	for _, t := range pub.pc.GetTransceivers() {
		if t.Sender() == pub.sender {
			pub.mid = t.Mid()
		}
	}
	return pub.sig.send(&signaling.Offer{Type: signaling.TypeOffer, PC: signaling.PCPub, SDP: offer.SDP,
		Tracks: []signaling.TrackSource{{Mid: pub.mid, Source: "camera"}}})
}

func (pub *publisher) handle(typ string, data []byte) error {
	if typ != signaling.TypeAnswer {
		return nil
	}
	var a signaling.Answer
	if err := json.Unmarshal(data, &a); err != nil {
		return fmt.Errorf("%w: answer: %v", ErrSignaling, err)
	}
	if a.PC != signaling.PCPub {
		return nil
	}
	if err := pub.setRemote(webrtc.SessionDescription{Type: webrtc.SDPTypeAnswer, SDP: a.SDP}); err != nil {
		return fmt.Errorf("%w: publisher answer: %v", ErrSignaling, err)
	}
	for _, e := range pub.sender.GetParameters().HeaderExtensions {
		switch e.URI {
		case sdp.SDESMidURI:
			pub.midExt = uint8(e.ID)
		case sdp.SDESRTPStreamIDURI:
			pub.ridExt = uint8(e.ID)
		}
	}
	for _, l := range pub.layers {
		go pub.readRTCP(l)
	}
	close(pub.answered)
	return nil
}

// readRTCP turns PLI and FIR from the SFU into a key frame on that layer,
// as an encoder would. It ends when the connection closes.
func (pub *publisher) readRTCP(l *layer) {
	for {
		var pkts []rtcp.Packet
		var err error
		if l.rid != "" {
			pkts, _, err = pub.sender.ReadSimulcastRTCP(l.rid)
		} else {
			pkts, _, err = pub.sender.ReadRTCP()
		}
		if err != nil {
			return
		}
		for _, p := range pkts {
			switch p.(type) {
			case *rtcp.PictureLossIndication, *rtcp.FullIntraRequest:
				l.forceKey.Store(true)
			}
		}
	}
}

// send runs the frame loop until ctx ends: every frame time, one frame on
// each layer.
func (pub *publisher) send(ctx context.Context) {
	select {
	case <-pub.answered:
	case <-ctx.Done():
		return
	}
	tick := time.NewTicker(pub.layers[0].src.FrameTime())
	defer tick.Stop()
	var frame, enc, pktBuf []byte
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		for _, l := range pub.layers {
			if l.forceKey.Swap(false) {
				l.src.ForceKey()
			}
			size, key := l.src.Next()
			l.frameNo++
			frame = bench.BuildFrame(frame[:0], key, size, time.Since(pub.epoch).Nanoseconds(), l.frameNo)
			out := frame
			if pub.key != nil {
				var err error
				if enc, err = pub.key.EncryptFrame(enc[:0], e2ee.CodecVP8, key, l.ivs.Next(), pub.key.KeyIndex(), frame); err != nil {
					pub.fail(err)
					return
				}
				out = enc
			}
			pub.writeFrame(l, out, &pktBuf)
			l.ts += uint32(90000 * l.src.FrameTime() / time.Second)
		}
		pub.frames.Add(1)
	}
}

func (pub *publisher) writeFrame(l *layer, frame []byte, buf *[]byte) {
	hdr := rtp.Header{Version: 2, Timestamp: l.ts}
	if pub.midExt != 0 {
		_ = hdr.SetExtension(pub.midExt, []byte(pub.mid))
	}
	if pub.ridExt != 0 && l.rid != "" {
		_ = hdr.SetExtension(pub.ridExt, []byte(l.rid))
	}
	_ = bench.Packetize(*buf, frame, maxPayload, func(payload []byte, last bool) error {
		l.seq++
		hdr.SequenceNumber = l.seq
		hdr.Marker = last
		// Write errors mean the connection is closing; the loop ends
		// with ctx.
		_ = l.track.WriteRTP(&rtp.Packet{Header: hdr, Payload: payload})
		return nil
	})
}
