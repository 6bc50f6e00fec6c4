// Package rtxbudget bounds the retransmissions an SFU sends one subscriber
// by what the subscriber's link can take. A congested link loses packets
// because it is full; answering every NACK adds more packets to it and
// feeds the loss (a retransmission storm). So:
//
//   - retransmissions may use a share of the link's rate (the larger of
//     the subscriber's estimate and what is sent to it), and the share
//     shrinks as the reported loss grows;
//   - a packet first sent longer ago than the receiver can still use (its
//     jitter window: a few round trips plus the jitter) is not resent.
//
// When the loss is that of a congested link, the caller should rather
// send less (a lower layer) than repair more; Congested says when.
package rtxbudget

import (
	"time"

	"golang.org/x/time/rate"
)

// Shares of the link rate retransmissions may use: MaxShare while the
// loss is low, falling to MinShare as it reaches HeavyLoss.
//
// A tenth was too little: at 5 % random loss a small video (some 170
// kbit/s) had 15 kbit/s of repair, two packets at once, and a loss of
// three asked for a key frame and stalled video 1.1 s (1 run in 3). A
// sender in a browser lets retransmissions use as much as the media.
const (
	MaxShare  = 0.25
	MinShare  = 0.05
	LowLoss   = 0.02
	HeavyLoss = 0.20
)

// CongestedLoss is the loss above which the link is taken as full: the
// caller should move to a lower layer rather than repair.
const CongestedLoss = 0.10

// Window bounds: a packet first sent longer ago than the window is not
// resent. DefaultWindow applies before a round trip is measured.
const (
	MinWindow     = 150 * time.Millisecond
	MaxWindow     = time.Second
	DefaultWindow = 400 * time.Millisecond
)

// minRate keeps a trickle of repair for tracks that send little (audio).
const minRate = 16_000 // bits per second

// burstTime is how much of the budget may be spent at once: a key frame's
// worth of loss is repaired at once rather than spread out.
const burstTime = time.Second

// minBurst is a full packet, so one retransmission always fits.
const minBurst = 1500 // bytes

// Verdict says whether a retransmission may go.
type Verdict int

const (
	Unknown    Verdict = iota
	Send               // within the window and the budget
	TooOld             // first sent before the receiver's jitter window
	OverBudget         // the link's share for repair is spent
)

func (v Verdict) String() string {
	switch v {
	case Send:
		return "send"
	case TooOld:
		return "too_old"
	case OverBudget:
		return "over_budget"
	}
	return "unknown"
}

// Budget is one subscriber track's repair allowance. It is not safe for
// concurrent use; the caller's lock guards it.
type Budget struct {
	lim    *rate.Limiter
	base   float64 // link rate, bits per second
	loss   float64 // fraction lost, 0..1, from the last receiver report
	media  float64 // of the media alone, without repairs and probes
	prev   float64 // of the media alone, from the report before
	window time.Duration
}

// New returns a budget with no rate known yet: minRate, DefaultWindow.
func New() *Budget {
	b := &Budget{lim: rate.NewLimiter(rate.Limit(minRate/8), minBurst), window: DefaultWindow}
	b.apply(time.Now())
	return b
}

// Share is the part of the link rate retransmissions may use at a loss
// fraction: MaxShare up to LowLoss, falling linearly to MinShare at
// HeavyLoss and above.
func Share(loss float64) float64 {
	switch {
	case loss <= LowLoss:
		return MaxShare
	case loss >= HeavyLoss:
		return MinShare
	}
	return MaxShare - (MaxShare-MinShare)*(loss-LowLoss)/(HeavyLoss-LowLoss)
}

// Window is how long after its first sending a packet is still worth
// resending: three round trips plus four times the jitter (what a
// receiver's jitter buffer waits for), within MinWindow..MaxWindow.
func Window(rtt, jitter time.Duration) time.Duration {
	return min(max(3*rtt+4*jitter, MinWindow), MaxWindow)
}

// SetRate sets the link rate in bits per second: the larger of the
// subscriber's limit and the rate sent to it.
func (b *Budget) SetRate(bps uint64, now time.Time) {
	b.base = float64(bps)
	b.apply(now)
}

// SetLoss records the fractions lost (0..1) from a receiver report: of
// all that was sent (media, retransmissions and probes), which sizes the
// share and says whether the link is full, and of the media alone, which
// says whether it is too narrow for them (Heavy).
func (b *Budget) SetLoss(loss, media float64, now time.Time) {
	b.loss = min(max(loss, 0), 1)
	b.prev, b.media = b.media, min(max(media, 0), 1)
	b.apply(now)
}

// SetPath sets the window from a measured round trip and jitter.
func (b *Budget) SetPath(rtt, jitter time.Duration) { b.window = Window(rtt, jitter) }

// Rate is the repair allowance in bits per second.
func (b *Budget) Rate() float64 { return max(b.base*Share(b.loss), minRate) }

// Congested reports whether the last report's loss is that of a full link.
func (b *Budget) Congested() bool { return b.loss >= CongestedLoss }

// MediaCongested reports whether the media alone lost as much: when only
// Congested is true, what was lost is mostly repairs and probes.
func (b *Budget) MediaCongested() bool { return b.media >= CongestedLoss }

// Heavy reports whether the last two reports' loss of the media is heavy
// (HeavyLoss or more): more than a full link's, that of a link too narrow
// for the media. One report is not enough: a report covers a second, some
// 25 packets of a small video, and on a link losing 5 % at random one in
// a hundred or so shows a fifth of them lost. Nor does a probe's padding
// count, lost because the probe overfilled the link, not because the
// media does not fit it. Taken as heavy, either dropped frames of the
// lowest layer and stalled video for over a second.
func (b *Budget) Heavy() bool { return min(b.media, b.prev) >= HeavyLoss }

func (b *Budget) apply(now time.Time) {
	r := b.Rate() / 8 // bytes per second
	b.lim.SetLimitAt(now, rate.Limit(r))
	b.lim.SetBurstAt(now, max(int(r*burstTime.Seconds()), minBurst))
}

// Allow decides on resending n bytes first sent at sentAt, and takes them
// from the budget when the answer is Send.
func (b *Budget) Allow(n int, sentAt, now time.Time) Verdict {
	if now.Sub(sentAt) > b.window {
		return TooOld
	}
	if !b.lim.AllowN(now, n) {
		return OverBudget
	}
	return Send
}
