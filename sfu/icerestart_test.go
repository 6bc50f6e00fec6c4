package sfu

import (
	"strings"
	"testing"
	"time"

	"github.com/monkeythorn/meet/internal/poll"
)

// iceUfrag returns the ice-ufrag of an SDP.
func iceUfrag(sdp string) string {
	for _, l := range strings.Split(sdp, "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(l), "a=ice-ufrag:"); ok {
			return v
		}
	}
	return ""
}

// TestRestartICE: the server's subscriber offer after RestartICE carries
// new ICE credentials, media keeps flowing on the restarted connection, and
// a burst of requests makes one restart.
func TestRestartICE(t *testing.T) {
	s := newTestSFU(t)
	stop := make(chan struct{})
	defer close(stop)
	a := joinClient(t, s, "restart", 'a')
	b := joinClient(t, s, "restart", 'b')
	a.publish(stop)
	poll.Until(t, 15*time.Second, "b to receive a's video", func() bool { return b.count(a.p.ID(), "video") > 20 })
	before := iceUfrag(b.sub.RemoteDescription().SDP)
	for range 5 {
		b.p.RestartICE()
	}
	poll.Until(t, 10*time.Second, "a restarted offer", func() bool {
		rd := b.sub.RemoteDescription()
		return rd != nil && iceUfrag(rd.SDP) != before
	})
	after := iceUfrag(b.sub.RemoteDescription().SDP)
	base := b.count(a.p.ID(), "video")
	poll.Until(t, 15*time.Second, "b to receive a's video after the restart", func() bool { return b.count(a.p.ID(), "video") > base+20 })
	b.p.subMu.Lock()
	last := b.p.lastICERestart
	b.p.subMu.Unlock()
	if time.Since(last) > 10*time.Second || iceUfrag(b.sub.RemoteDescription().SDP) != after {
		t.Errorf("the burst of five requests restarted more than once")
	}
}
