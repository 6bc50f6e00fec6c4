// Package bwe fits what the SFU sends a subscriber to the bandwidth the
// subscriber's browser estimates (REMB, RFC draft-alvestrand-rmcat-remb):
// a token bucket that says whether the next video frame fits, and the
// choice of simulcast layer for an estimate.
//
// Under a falling estimate the SFU moves a subscriber down a layer at that
// layer's next key frame; dropping whole frames (and resuming only at a key
// frame, so the decoder never sees a broken reference chain) is the last
// resort, for when sending has run far ahead of the estimate.
package bwe

// Burst is how much sending the bucket allows ahead of the rate, in
// seconds: enough for a key frame.
const Burst = 0.5

// Budget is a token bucket in bits. The zero value has no rate and allows
// everything: a subscriber that sends no estimate is not limited.
type Budget struct {
	rate   float64 // bits per second; 0 = unlimited
	tokens float64 // bits
	last   int64   // unix nanoseconds of the last refill
}

// SetRate sets the estimate in bits per second; 0 removes the limit.
func (b *Budget) SetRate(bps uint64) {
	b.rate = float64(bps)
	b.tokens = min(b.tokens, b.rate*Burst)
}

// Rate returns the estimate in bits per second, 0 when unlimited.
func (b *Budget) Rate() uint64 { return uint64(b.rate) }

func (b *Budget) refill(now int64) {
	if b.last != 0 && now > b.last {
		b.tokens = min(b.tokens+b.rate*float64(now-b.last)/1e9, b.rate*Burst)
	}
	b.last = now
}

// Allow reports whether a new frame may start at now.
func (b *Budget) Allow(now int64) bool {
	if b.rate == 0 {
		return true
	}
	b.refill(now)
	return b.tokens >= 0
}

// Debt returns how far sending has run ahead of the estimate at now, in
// seconds of the estimate: 0 while within it.
func (b *Budget) Debt(now int64) float64 {
	if b.rate == 0 {
		return 0
	}
	b.refill(now)
	if b.tokens >= 0 {
		return 0
	}
	return -b.tokens / b.rate
}

// Spend takes a sent packet of n bytes from the bucket. The bucket may go
// below zero within a frame; the next frame then waits.
func (b *Budget) Spend(n int, now int64) {
	if b.rate == 0 {
		return
	}
	b.refill(now)
	b.tokens -= float64(n * 8)
}

// Headroom is the share of an estimate a layer may use, leaving room for
// audio, retransmissions and the estimate's own error.
const Headroom = 0.85

// PickLayer returns the highest layer at or below max whose measured rate
// (bits per second, 0 = not received) fits the estimate, or the lowest
// received layer when none fits. estimate 0 means unlimited.
func PickLayer(rates []uint64, estimate uint64, max int) int {
	lowest := -1
	for i := range rates {
		if rates[i] > 0 {
			lowest = i
			break
		}
	}
	for i := min(max, len(rates)-1); i >= 0; i-- {
		if rates[i] == 0 {
			continue
		}
		if estimate == 0 || float64(rates[i]) <= float64(estimate)*Headroom {
			return i
		}
	}
	return lowest
}

// Cap forgives debt beyond seconds of the estimate: what was sent is
// gone, and a debt that only grows would hold the next frames back for
// as long as it took to build.
func (b *Budget) Cap(seconds float64) {
	b.tokens = max(b.tokens, -b.rate*seconds)
}
