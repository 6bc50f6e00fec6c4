package sfu

import (
	"time"

	"github.com/monkeythorn/meet/sfu/sendside"
)

// transportCC is a subscriber connection's send-side bandwidth estimate
// (sfu/sendside): its DownTracks number every packet they send on one
// transport-wide sequence, the browser reports when each arrived, and the
// estimate limits the subscriber's video as a REMB would, sooner and
// without waiting for a receiver-side estimate to creep up.
type transportCC struct {
	history *sendside.History
	est     *sendside.Estimator
	// Touched by tickDowns alone: the estimate and the count of its
	// decreases last given to the DownTracks.
	applied, decreases uint64
}

func newTransportCC(now time.Time) *transportCC {
	h := sendside.NewHistory(now.UnixNano())
	return &transportCC{history: h, est: sendside.NewEstimator(h)}
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
