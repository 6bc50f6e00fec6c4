package sfu

import (
	"bytes"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/monkeythorn/meet/internal/poll"
	"github.com/pion/interceptor"
	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"
)

// redAPI is a client that, like Chromium, offers Opus RED besides Opus.
func redAPI(t *testing.T) *webrtc.API {
	t.Helper()
	se := webrtc.SettingEngine{}
	se.SetIncludeLoopbackCandidate(true)
	se.SetNetworkTypes([]webrtc.NetworkType{webrtc.NetworkTypeUDP4})
	se.SetInterfaceFilter(func(name string) bool { return name == "lo" })
	m := &webrtc.MediaEngine{}
	for _, c := range []webrtc.RTPCodecParameters{
		{RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: "audio/red", ClockRate: 48000, Channels: 2, SDPFmtpLine: "111/111"}, PayloadType: 63},
		{RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeOpus, ClockRate: 48000, Channels: 2, SDPFmtpLine: "minptime=10;useinbandfec=1"}, PayloadType: 111},
	} {
		if err := m.RegisterCodec(c, webrtc.RTPCodecTypeAudio); err != nil {
			t.Fatal(err)
		}
	}
	return webrtc.NewAPI(webrtc.WithMediaEngine(m), webrtc.WithSettingEngine(se), webrtc.WithInterceptorRegistry(&interceptor.Registry{}))
}

// rawTrack sends RTP with the payload types it is given (a
// TrackLocalStaticRTP puts its bound codec's on every packet).
type rawTrack struct {
	mu   sync.Mutex
	w    webrtc.TrackLocalWriter
	ssrc webrtc.SSRC
}

func (r *rawTrack) Bind(ctx webrtc.TrackLocalContext) (webrtc.RTPCodecParameters, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.w, r.ssrc = ctx.WriteStream(), ctx.SSRC()
	for _, c := range ctx.CodecParameters() {
		if c.MimeType == "audio/red" {
			return c, nil
		}
	}
	return webrtc.RTPCodecParameters{}, webrtc.ErrUnsupportedCodec
}

func (r *rawTrack) Unbind(webrtc.TrackLocalContext) error { return nil }
func (r *rawTrack) ID() string                            { return "a" }
func (r *rawTrack) RID() string                           { return "" }
func (r *rawTrack) StreamID() string                      { return "s" }
func (r *rawTrack) Kind() webrtc.RTPCodecType             { return webrtc.RTPCodecTypeAudio }

func (r *rawTrack) write(h rtp.Header, payload []byte) error {
	r.mu.Lock()
	w, ssrc := r.w, r.ssrc
	r.mu.Unlock()
	if w == nil {
		return nil // not bound yet
	}
	h.SSRC = uint32(ssrc)
	_, err := w.WriteRTP(&h, payload)
	return err
}

// publishMicrophone publishes track as c's microphone and waits until
// the negotiation is done.
func (c *testClient) publishMicrophone(t *testing.T, track webrtc.TrackLocal) {
	t.Helper()
	if _, err := c.pub.AddTransceiverFromTrack(track, webrtc.RTPTransceiverInit{Direction: webrtc.RTPTransceiverDirectionSendonly}); err != nil {
		t.Fatal(err)
	}
	offer, err := c.pub.CreateOffer(nil)
	if err == nil {
		err = c.pub.SetLocalDescription(offer)
	}
	if err != nil {
		t.Fatal(err)
	}
	answer, err := c.p.Publish(offer.SDP, map[string]string{"0": SourceMicrophone})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.pub.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeAnswer, SDP: answer}); err != nil {
		t.Fatal(err)
	}
	c.flush(PCPublisher)
}

// received is what one subscriber got of an audio track: payload type and
// payload of each packet.
type received struct {
	mu   sync.Mutex
	pts  []uint8
	data [][]byte
}

func (r *received) record(tr *webrtc.TrackRemote) {
	readRTP(tr, func(p *rtp.Packet) {
		if p == nil {
			return
		}
		r.mu.Lock()
		r.pts = append(r.pts, p.PayloadType)
		r.data = append(r.data, bytes.Clone(p.Payload))
		r.mu.Unlock()
	})
}

func (r *received) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.data)
}

// A publisher's Opus RED reaches a subscriber that offered RED as it was
// sent, and one without RED as the primary block alone, as plain Opus; plain
// Opus packets the publisher mixes in reach both as Opus.
func TestOpusREDToEachSubscriber(t *testing.T) {
	s := newTestSFU(t)
	red, plain := redAPI(t), clientAPI(t)
	pub := joinClientWith(t, s, "room", 'a', red, red)
	withRED := joinClientWith(t, s, "room", 'b', red, red)
	withoutRED := joinClientWith(t, s, "room", 'c', plain, plain)
	var got [2]received
	for i, c := range []*testClient{withRED, withoutRED} {
		c.sub.OnTrack(func(tr *webrtc.TrackRemote, _ *webrtc.RTPReceiver) { got[i].record(tr) })
	}

	track := &rawTrack{}
	pub.publishMicrophone(t, track)

	// Packet i carries frame i as its primary block and frame i-1 before
	// it; every fifth packet is plain Opus (PT 111), as a browser sends
	// when a RED packet would not fit.
	frame := func(i int) []byte { return fmt.Appendf(nil, "\x78frame-%04d", i) }
	payload := func(i int) (uint8, []byte) {
		if i%5 == 4 {
			return 111, frame(i)
		}
		old := frame(i - 1)
		p := []byte{0x80 | 111, 960 >> 6, byte(960&0x3f)<<2 | byte(len(old)>>8), byte(len(old)), 111}
		return 63, append(append(p, old...), frame(i)...)
	}
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		for i := 1; ; i++ {
			select {
			case <-stop:
				return
			case <-tick.C:
			}
			pt, p := payload(i)
			if err := track.write(rtp.Header{Version: 2, PayloadType: pt, SequenceNumber: uint16(i), Timestamp: uint32(i * 960)}, p); err != nil {
				return
			}
		}
	}()
	poll.Until(t, 15*time.Second, "both subscribers to receive 30 packets", func() bool {
		return got[0].count() > 30 && got[1].count() > 30
	})
	close(stop)
	<-done

	for k, name := range []string{"with RED", "without RED"} {
		r := &got[k]
		r.mu.Lock()
		for j, p := range r.data {
			var i int
			if _, err := fmt.Sscanf(string(p[bytes.LastIndex(p, []byte("frame-")):]), "frame-%04d", &i); err != nil {
				t.Fatalf("%s: packet %x carries no frame", name, p)
			}
			wantPT, want := payload(i)
			if k == 1 || wantPT == 111 {
				wantPT, want = 111, frame(i)
			}
			if r.pts[j] != wantPT || !bytes.Equal(p, want) {
				t.Fatalf("%s: packet of frame %d: PT %d payload %q, want PT %d payload %q", name, i, r.pts[j], p, wantPT, want)
			}
		}
		r.mu.Unlock()
	}
}

// A subscriber that offers RTX (as browsers and Pion do) gets an RTX
// stream for each video track: its own SSRC, in the SDP's FID group.
func TestRTXNegotiated(t *testing.T) {
	s := newTestSFU(t)
	pub, sub := joinClient(t, s, "room", 'a'), joinClient(t, s, "room", 'b')
	stop := make(chan struct{})
	defer close(stop)
	pub.publish(stop)
	poll.Until(t, 15*time.Second, "b to receive a's video", func() bool { return sub.count(pub.p.ID(), "video") > 10 })
	sub.p.subMu.Lock()
	defer sub.p.subMu.Unlock()
	for up, d := range sub.p.downs {
		w := d.writer.Load()
		switch {
		case w == nil:
			t.Fatalf("%s track not bound", up.kind)
		case up.kind == webrtc.RTPCodecTypeVideo && (w.rtxSSRC == 0 || w.rtxPT == 0):
			t.Errorf("video track without RTX: SSRC %d PT %d", w.rtxSSRC, w.rtxPT)
		case up.kind == webrtc.RTPCodecTypeAudio && w.rtxSSRC != 0:
			t.Errorf("audio track with RTX SSRC %d", w.rtxSSRC)
		}
	}
	if sdp := sub.sub.RemoteDescription().SDP; !strings.Contains(sdp, "a=ssrc-group:FID") {
		t.Errorf("the subscriber's offer has no FID group:\n%s", sdp)
	}
}
