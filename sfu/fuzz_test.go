package sfu

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"errors"
	"log/slog"
	"testing"
	"time"

	"github.com/monkeythorn/meet/sfu/packetcache"
	"github.com/monkeythorn/meet/sfu/rtpcodec"
	"github.com/monkeythorn/meet/sfu/rtpmunger"
	"github.com/pion/rtcp"
	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"
)

// The fuzz targets of the packets and descriptions a client controls.
// Their seed corpora in testdata/fuzz run with every `go test`; `make fuzz`
// runs them for real (docs/reliability.md has the figures).

// FuzzSubscriberRTCP hands any compound RTCP packet a subscriber can send
// (NACK, PLI, FIR, REMB, receiver reports, anything else) to a DownTrack
// whose cache holds sent packets. One datagram may trigger at most
// maxRTXPerNACK retransmissions, and an estimate stays within maxREMB.
func FuzzSubscriberRTCP(f *testing.F) {
	_, up, writers := fakeFanout(f, 1)
	d, w := (*up.downs.Load())[0], writers[0]
	// Outgoing sequence numbers 0 to seqHistory-1, so that inputs can
	// name them.
	d.current = 0
	d.munger.SetSource(1<<16, 0, 0, 0, 0)
	up.layers[0].cache = packetcache.New(seqHistory)
	buf := make([]byte, 200)
	for i := range seqHistory {
		h := rtp.Header{Version: 2, PayloadType: 96, SequenceNumber: uint16(i)}
		n, _ := h.MarshalTo(buf)
		buf[n] = 0x10
		esn := uint64(1<<16 + i)
		up.layers[0].cache.Store(esn, buf[:n+1])
		d.writeRTP(&packet{header: &h, payload: buf[n : n+1], esn: esn, ets: uint64(i) * 3000, keyframe: true}, nil)
	}
	f.Add([]byte{0x81, 0xcd, 0x00, 0x03, 0, 0, 0, 1, 0, 0, 0, 1, 0x00, 0x05, 0xff, 0xff})
	f.Fuzz(func(t *testing.T, data []byte) {
		pkts, err := rtcp.Unmarshal(data)
		if err != nil {
			return
		}
		d.mu.Lock()
		for i := range d.history {
			d.history[i].rtxAt = 0 // each input starts with every packet resendable
		}
		d.mu.Unlock()
		before := w.n.Load()
		d.handleRTCP(pkts)
		if n := w.n.Load() - before; n > maxRTXPerNACK {
			t.Fatalf("one datagram triggered %d retransmissions, limit %d", n, maxRTXPerNACK)
		}
		d.mu.Lock()
		rate := d.budget.Rate()
		d.mu.Unlock()
		if rate > maxREMB {
			t.Fatalf("estimate %d above %v", rate, maxREMB)
		}
	})
}

// checkingWriter stands in for a subscriber's write stream and checks
// that what the SFU sends is a well-formed packet carrying no extension
// but the one the SFU sets itself.
type checkingWriter struct {
	absID   uint8
	lastSeq uint16
	fail    func(format string, args ...any)
}

func (w *checkingWriter) WriteRTP(h *rtp.Header, payload []byte) (int, error) {
	b, err := (&rtp.Packet{Header: *h, Payload: payload}).Marshal()
	if err != nil {
		w.fail("forwarded packet does not marshal: %v", err)
		return 0, err
	}
	var back rtp.Packet
	if err := back.Unmarshal(b); err != nil {
		w.fail("forwarded packet does not parse back: %v", err)
		return 0, err
	}
	// Retransmissions carry no extension; forwarded packets only ours.
	if ids := back.GetExtensionIDs(); len(ids) > 1 || len(ids) == 1 && (ids[0] != w.absID || len(back.GetExtension(w.absID)) != 3) {
		w.fail("forwarded extensions %v, want at most abs-send-time (%d, 3 bytes)", ids, w.absID)
	}
	w.lastSeq = h.SequenceNumber
	return len(payload), nil
}

func (w *checkingWriter) Write(b []byte) (int, error) { return len(b), nil }

// FuzzPublisherRTP parses any packet a publisher can send the way the
// reader does (header, padding, the audio level, transport-wide sequence
// number, mid and rid extensions),
// forwards it to a subscriber, who gets a well-formed packet with only the
// SFU's abs-send-time extension, and then asks for it again by NACK,
// which re-parses it from the cache.
func FuzzPublisherRTP(f *testing.F) {
	_, up, _ := fakeFanout(f, 1)
	d := (*up.downs.Load())[0]
	w := &checkingWriter{absID: 3}
	d.writer.Store(&trackWriter{w: w, ssrc: 1, pt: 96, absID: w.absID})
	seq, ts := rtpmunger.NewSeqUnwrapper(), rtpmunger.NewTSUnwrapper()
	var fail func(format string, args ...any)
	arrivals := newArrivalFeedback(1, func(p []rtcp.Packet) {
		if _, err := rtcp.Marshal(p); err != nil {
			fail("TWCC feedback does not marshal: %v", err)
		}
	})
	arrivals.extID.Store(5) // the transport-wide sequence number
	clock := time.Now().UnixNano()
	f.Add([]byte{0x90, 0x60, 0x00, 0x01, 0, 0, 0, 0, 0, 0, 0, 1, 0xbe, 0xde, 0x00, 0x01, 0x10, 0x85, 0, 0, 0x10, 0x00, 0x00, 0x9d, 0x01, 0x2a})
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) > packetcache.MaxPacketSize {
			return // the reader's buffer is this large
		}
		w.fail, fail = t.Fatalf, t.Fatalf
		var h rtp.Header
		payload, ok := parseRTP(data, &h)
		if !ok {
			return
		}
		if len(payload) > len(data) || cap(payload) > cap(data) {
			t.Fatalf("payload of %d bytes from a %d-byte packet", len(payload), len(data))
		}
		for id := uint8(1); id <= 14; id++ {
			if level, ok := audioLevel(&h, id); ok && level > 127 {
				t.Fatalf("audio level %d", level)
			}
			if l := layerIndex(string(h.GetExtension(id))); l < 0 || l >= maxLayers {
				t.Fatalf("rid %q maps to layer %d", h.GetExtension(id), l)
			}
		}
		for _, c := range []rtpcodec.Codec{rtpcodec.Unknown, rtpcodec.Opus, rtpcodec.VP8, rtpcodec.H264} {
			rtpcodec.IsKeyframe(c, payload)
		}
		clock += int64(30 * time.Millisecond)
		now := clock
		arrivals.record(data, now)
		p := packet{
			header: &h, payload: payload, layer: 0, now: now, absSendTime: absSendTime(now),
			esn: seq.Unwrap(uint32(h.SequenceNumber)), ets: ts.Unwrap(h.Timestamp),
			keyframe: rtpcodec.IsKeyframe(rtpcodec.VP8, payload),
		}
		up.layers[0].cache.Store(p.esn, data)
		d.writeRTP(&p, nil)
		d.mu.Lock()
		for i := range d.history {
			d.history[i].rtxAt = 0
		}
		d.mu.Unlock()
		d.handleRTCP([]rtcp.Packet{&rtcp.TransportLayerNack{Nacks: rtcp.NackPairsFromSequenceNumbers([]uint16{w.lastSeq})}})
	})
}

// FuzzOffer runs any offer a client can send through checkSDP and, when
// it passes, through Pion on a publisher connection built like the SFU's:
// set as the remote description and answered. Nothing may panic, and the
// SFU's answer must pass the same limits.
func FuzzOffer(f *testing.F) {
	s, err := New(Config{ListenIP: "127.0.0.1", IncludeLoopback: true, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { s.Close() })
	// One certificate for every connection: generating one per input
	// would be most of the cost.
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		f.Fatal(err)
	}
	cert, err := webrtc.GenerateCertificate(key)
	if err != nil {
		f.Fatal(err)
	}
	conf := webrtc.Configuration{Certificates: []webrtc.Certificate{*cert}}
	f.Add("v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\n")
	f.Fuzz(func(t *testing.T, raw string) {
		if err := checkSDP(raw); err != nil {
			if !errors.Is(err, ErrBadSDP) {
				t.Fatalf("error %v does not wrap ErrBadSDP", err)
			}
			return
		}
		pc, err := s.pubAPI.NewPeerConnection(conf)
		if err != nil {
			t.Fatal(err)
		}
		defer pc.Close()
		if err := pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeOffer, SDP: raw}); err != nil {
			return
		}
		answer, err := pc.CreateAnswer(nil)
		if err != nil {
			return
		}
		if err := checkSDP(answer.SDP); err != nil {
			t.Fatalf("the SFU's answer fails its own check: %v", err)
		}
	})
}

func TestCheckSDP(t *testing.T) {
	base := "v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\n"
	media := func(n int, attr string, count int) string {
		out := base
		for range n {
			out += "m=video 9 UDP/TLS/RTP/SAVPF 96\r\nc=IN IP4 0.0.0.0\r\na=mid:0\r\n"
			for i := range count {
				out += "a=" + attr + itoa(i) + "\r\n"
			}
		}
		return out
	}
	tests := []struct {
		name string
		sdp  string
		ok   bool
	}{
		{"minimal", base, true},
		{"three rids", media(1, "rid:", 3), true},
		{"four rids", media(1, "rid:", 4), false},
		{"many media", media(maxMediaSections+1, "x", 0), false},
		{"max media", media(maxMediaSections, "x", 0), true},
		{"many candidates", media(1, "candidate:", maxCandidates+1), false},
		{"many ssrcs", media(1, "ssrc:", maxSSRCs+1), false},
		{"many extmaps", media(1, "extmap:", maxExtmaps+1), false},
		{"garbage", "hello", false},
		{"too large", base + "a=x:" + string(make([]byte, maxSDPSize)) + "\r\n", false},
	}
	for _, tt := range tests {
		if err := checkSDP(tt.sdp); (err == nil) != tt.ok || (err != nil && !errors.Is(err, ErrBadSDP)) {
			t.Errorf("%s: err = %v, want ok=%v", tt.name, err, tt.ok)
		}
	}
}

func itoa(i int) string {
	return string(rune('0'+i/100%10)) + string(rune('0'+i/10%10)) + string(rune('0'+i%10))
}
