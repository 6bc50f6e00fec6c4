package sfu

import (
	"github.com/monkeythorn/meet/internal/poll"
	"slices"
	"testing"
	"time"

	"github.com/pion/webrtc/v4"
)

// TestSpeakersAnnounced drives one audio track's level meter as its reader
// does from the RFC 6464 extension and expects the room to announce the
// speaker to the others, then to announce silence.
func TestSpeakersAnnounced(t *testing.T) {
	s := newTestSFU(t)
	stop := make(chan struct{})
	defer close(stop)
	a := joinClient(t, s, "speak", 'a')
	b := joinClient(t, s, "speak", 'b')
	a.publish(stop)
	poll.Until(t, 15*time.Second, "b to receive a's audio", func() bool { return b.count(a.p.ID(), "audio") > 5 })

	var audio *UpTrack
	r := a.p.room
	r.mu.Lock()
	for _, tr := range r.tracks {
		if tr.kind == webrtc.RTPCodecTypeAudio && tr.info.Participant == a.p.id {
			audio = tr
		}
	}
	r.mu.Unlock()
	if audio == nil {
		t.Fatal("a's audio track not found")
	}
	lastSpeakers := func() []string {
		b.mu.Lock()
		defer b.mu.Unlock()
		for i := len(b.events) - 1; i >= 0; i-- {
			if sp, ok := b.events[i].(*Speakers); ok {
				return sp.IDs
			}
		}
		return nil
	}
	talk := func(d time.Duration, level uint8) {
		for end := time.Now().Add(d); time.Now().Before(end); time.Sleep(20 * time.Millisecond) {
			audio.meter.Update(level, time.Now().UnixNano())
		}
	}
	talk(time.Second, 25) // speech at -25 dBov
	poll.Until(t, 3*time.Second, "a announced as speaker", func() bool {
		return slices.Equal(lastSpeakers(), []string{a.p.ID()})
	})
	// Silence: a's score fades (no more levels: stale, as with DTX).
	poll.Until(t, 3*time.Second, "speakers cleared", func() bool {
		ids := lastSpeakers()
		return ids != nil && len(ids) == 0
	})
}
