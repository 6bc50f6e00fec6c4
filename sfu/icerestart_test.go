package sfu

import (
	"strings"
	"testing"
	"time"

	"github.com/monkeythorn/meet/internal/poll"
	"github.com/pion/webrtc/v4"
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

// remoteHostCandidates counts the host candidates pc holds of its peer.
func remoteHostCandidates(pc *webrtc.PeerConnection) int {
	n := 0
	for _, st := range pc.GetStats() {
		if c, ok := st.(webrtc.ICECandidateStats); ok && c.Type == webrtc.StatsTypeRemoteCandidate && c.CandidateType == webrtc.ICECandidateTypeHost {
			n++
		}
	}
	return n
}

// TestRestartICE: the server's subscriber offer after RestartICE carries
// new ICE credentials, media keeps flowing on the restarted connection, and
// a burst of requests makes one restart. Candidates of the new generation
// are not lost to either order of arrival: the server's reach the client
// after the offer they belong to, and the client's that reach the server
// before its answer are kept for it.
func TestRestartICE(t *testing.T) {
	s := newTestSFU(t)
	stop := make(chan struct{})
	defer close(stop)
	api := clientAPI(t)
	a := joinClient(t, s, "restart", 'a')
	b := joinClientWith(t, s, "restart", 'b', api, api, func(c *testClient) { c.answerLate = true })
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
	if n := b.early.Load(); n != 0 {
		t.Errorf("%d server candidates reached the client before their offer", n)
	}
	if n := remoteHostCandidates(b.p.sub); n == 0 {
		t.Errorf("the server holds none of the client's host candidates after the restart")
	}
}
