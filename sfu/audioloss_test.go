package sfu

import (
	"sync"
	"testing"
	"time"

	"github.com/monkeythorn/meet/sfu/rtpstats"
	"github.com/pion/rtcp"
	"github.com/pion/webrtc/v4"
)

// The loss subscribers report of an audio track reaches its publisher in
// the receiver report (capped), so its Opus encoder adds in-band FEC; a
// video publisher hears only its own uplink's loss.
func TestDownstreamLossToldToPublisher(t *testing.T) {
	for _, tt := range []struct {
		kind webrtc.RTPCodecType
		want uint8
	}{
		{webrtc.RTPCodecTypeAudio, maxReportedLoss},
		{webrtc.RTPCodecTypeVideo, 0},
	} {
		t.Run(tt.kind.String(), func(t *testing.T) {
			_, up, _ := fakeFanout(t, 2)
			up.kind = tt.kind
			var (
				mu   sync.Mutex
				sent []rtcp.Packet
			)
			up.toPublisher = func(p []rtcp.Packet) error {
				mu.Lock()
				sent = append(sent, p...)
				mu.Unlock()
				return nil
			}
			downs := *up.downs.Load()
			downs[0].handleRTCP([]rtcp.Packet{&rtcp.ReceiverReport{Reports: []rtcp.ReceptionReport{{SSRC: 1, FractionLost: 13}}}}) // 5 %
			downs[1].handleRTCP([]rtcp.Packet{&rtcp.ReceiverReport{Reports: []rtcp.ReceptionReport{{SSRC: 2, FractionLost: 200}, {SSRC: 99, FractionLost: 255}}}})
			l := up.layers[0]
			l.ssrc, l.stats = 5, rtpstats.NewReceiver(48000)
			now := time.Now().UnixNano()
			for i := range uint64(50) {
				l.stats.Update(1<<16+i, uint32(i*960), now) // a clean uplink
			}
			up.feedback(l, now)
			mu.Lock()
			defer mu.Unlock()
			for _, p := range sent {
				if rr, ok := p.(*rtcp.ReceiverReport); ok {
					if got := rr.Reports[0].FractionLost; got != tt.want {
						t.Fatalf("fraction lost told to the publisher %d, want %d", got, tt.want)
					}
					return
				}
			}
			t.Fatal("no receiver report")
		})
	}
}
