package sfu

import (
	"time"

	"github.com/monkeythorn/meet/sfu/sendside"
	"github.com/pion/rtcp"
	"golang.org/x/time/rate"
)

// Browsers send transport-wide feedback every 50-100 ms. A report of a
// few bytes can describe thousands of packets (a run-length chunk covers
// 8191), each a lookup, so a subscriber's reports are read at most
// feedbackRate a second (feedbackBurst at once); the others are dropped.
const (
	feedbackRate  = 50
	feedbackBurst = 10
)

// transportCC is a subscriber connection's send-side bandwidth estimate
// (sfu/sendside): its DownTracks number every packet they send on one
// transport-wide sequence, the browser reports when each arrived, and the
// estimate limits the subscriber's video as a REMB would, sooner and
// without waiting for a receiver-side estimate to creep up.
type transportCC struct {
	history *sendside.History
	est     *sendside.Estimator
	reports *rate.Limiter
	// Touched by tickDowns alone: the estimate and the count of its
	// decreases last given to the DownTracks.
	applied, decreases uint64
}

func newTransportCC(now time.Time) *transportCC {
	h := sendside.NewHistory(now.UnixNano())
	return &transportCC{history: h, est: sendside.NewEstimator(h), reports: rate.NewLimiter(feedbackRate, feedbackBurst)}
}

// feedback reads one report of the subscriber's, unless it sends them
// faster than feedbackRate; it reports whether it read it.
func (t *transportCC) feedback(fb *rtcp.TransportLayerCC, now time.Time) bool {
	if !t.reports.AllowN(now, 1) {
		return false
	}
	t.est.OnFeedback(fb, now)
	return true
}

// update returns the estimate when it moved since the last call, and
// whether it was lowered (by delay or loss, not only by what arrived) in
// between; ok is false when there is nothing new.
func (t *transportCC) update() (bps uint64, fell, ok bool) {
	bps, decreases := t.est.State()
	if bps == 0 || (bps == t.applied && decreases == t.decreases) {
		return 0, false, false
	}
	fell = decreases != t.decreases
	t.applied, t.decreases = bps, decreases
	return bps, fell, true
}
