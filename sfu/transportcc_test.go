package sfu

import (
	"testing"
	"time"

	"github.com/monkeythorn/meet/internal/poll"
	"github.com/pion/interceptor"
	"github.com/pion/rtcp"
	"github.com/pion/sdp/v3"
	"github.com/pion/webrtc/v4"
)

// twccClientAPI is clientAPI with Pion's transport-wide feedback sender, as
// a browser's receiver is.
func twccClientAPI(t *testing.T) *webrtc.API { return transportCCAPI(t, true) }

// transportCCAPI is clientAPI taking the transport-wide sequence number, with
// Pion's feedback sender or, for the allocation test, without (no
// interceptor at all).
func transportCCAPI(t *testing.T, feedback bool) *webrtc.API {
	return newClientAPI(t, func(m *webrtc.MediaEngine, reg *interceptor.Registry) error {
		if feedback {
			return webrtc.ConfigureTWCCSender(m, reg)
		}
		for _, k := range []webrtc.RTPCodecType{webrtc.RTPCodecTypeVideo, webrtc.RTPCodecTypeAudio} {
			if err := m.RegisterHeaderExtension(webrtc.RTPHeaderExtensionCapability{URI: sdp.TransportCCURI}, k); err != nil {
				return err
			}
		}
		return nil
	})
}

// TestTransportWideEstimate: a subscriber that takes transport-wide
// feedback gets every packet numbered, its feedback makes the SFU's own
// estimate, and that estimate is what limits its video.
func TestTransportWideEstimate(t *testing.T) {
	s := newTestSFU(t)
	stop := make(chan struct{})
	defer close(stop)
	a := joinClient(t, s, "tcc", 'a')
	b := joinClientWith(t, s, "tcc", 'b', clientAPI(t), twccClientAPI(t))
	a.publish(stop)
	poll.Until(t, 15*time.Second, "b to receive a's video", func() bool { return b.count(a.p.ID(), "video") > 20 })
	poll.Until(t, 10*time.Second, "an estimate from b's feedback", func() bool {
		bps, _ := b.p.tcc.est.State()
		return bps > 0
	})
	var video *DownTrack
	b.p.subMu.Lock()
	for up, d := range b.p.downs {
		if up.kind == webrtc.RTPCodecTypeVideo {
			video = d
		}
	}
	b.p.subMu.Unlock()
	if w := video.writer.Load(); w == nil || w.tccID == 0 {
		t.Fatal("the subscriber's video is not numbered for transport-wide feedback")
	}
	poll.Until(t, 5*time.Second, "the estimate to limit b's video", func() bool {
		bps, _ := b.p.tcc.est.State()
		video.mu.Lock()
		defer video.mu.Unlock()
		return video.remb != 0 && video.remb == bps
	})
}

// TestFeedbackFlood: a subscriber that sends reports far faster than a
// browser gets feedbackRate a second read, whatever each describes.
func TestFeedbackFlood(t *testing.T) {
	tcc := newTransportCC(time.Now())
	// One run-length chunk says 4096 packets were not received: 20 bytes
	// for 4096 lookups.
	fb := &rtcp.TransportLayerCC{PacketStatusCount: 4096, PacketChunks: []rtcp.PacketStatusChunk{
		&rtcp.RunLengthChunk{PacketStatusSymbol: rtcp.TypeTCCPacketNotReceived, RunLength: 4096}}}
	start := time.Now()
	tests := []struct {
		name     string
		reports  int
		over     time.Duration
		wantRead int
	}{
		{"a burst", 1000, 0, feedbackBurst},
		{"a second of flood", 10_000, time.Second, feedbackRate},
	}
	for _, tt := range tests {
		read := 0
		for i := range tt.reports {
			if tcc.feedback(fb, start.Add(tt.over*time.Duration(i)/time.Duration(tt.reports))) {
				read++
			}
		}
		start = start.Add(tt.over)
		if read > tt.wantRead+1 {
			t.Errorf("%s: %d of %d reports read, want at most %d", tt.name, read, tt.reports, tt.wantRead+1)
		}
	}
}
