package sfu

import (
	"sync/atomic"
	"time"
)

// forwardDelayBuckets is the number of bounded buckets.
const forwardDelayBuckets = 12

// forwardDelayBoundsNs are the upper bounds of the forwarding delay
// histogram's buckets: a frame to a few dozen subscribers leaves in well
// under a millisecond on an idle server; tens of milliseconds mean the
// server waited for a CPU.
func forwardDelayBoundsNs() [forwardDelayBuckets]int64 {
	const us, ms = int64(time.Microsecond), int64(time.Millisecond)
	return [forwardDelayBuckets]int64{250 * us, 500 * us, 1 * ms, 2 * ms, 3 * ms, 5 * ms, 7500 * us, 10 * ms, 20 * ms, 50 * ms, 100 * ms, 250 * ms}
}

// Histogram is a snapshot of a histogram of durations.
type Histogram struct {
	// Bounds are the buckets' upper bounds in seconds, ascending.
	Bounds []float64
	// Counts are the observations per bucket (not cumulative); the last
	// one, beyond every bound, is Counts[len(Bounds)].
	Counts []uint64
	// Sum is the observations' total, in seconds.
	Sum float64
}

// Count is the number of observations.
func (h Histogram) Count() uint64 {
	var n uint64
	for _, c := range h.Counts {
		n += c
	}
	return n
}

// delayHistogram counts forwarding delays: how long after the SFU read a
// frame's first packet the last subscriber's copy of it was sent (for
// video, the wait for the rest of the frame included; for audio, one
// packet). Observed once per fan-out, from any goroutine: once per frame,
// or per part of a frame the hold let go separately (more than 16
// packets, or 1 ms without the rest).
type delayHistogram struct {
	counts [forwardDelayBuckets + 1]atomic.Uint64
	sumNs  atomic.Uint64
}

func (h *delayHistogram) observe(ns int64) {
	ns = max(ns, 0)
	bounds := forwardDelayBoundsNs()
	i := 0
	for i < len(bounds) && ns > bounds[i] {
		i++
	}
	h.counts[i].Add(1)
	h.sumNs.Add(uint64(ns))
}

func (h *delayHistogram) snapshot() Histogram {
	bounds := forwardDelayBoundsNs()
	out := Histogram{Bounds: make([]float64, len(bounds)), Counts: make([]uint64, len(h.counts))}
	for i, b := range bounds {
		out.Bounds[i] = time.Duration(b).Seconds()
	}
	for i := range h.counts {
		out.Counts[i] = h.counts[i].Load()
	}
	out.Sum = time.Duration(h.sumNs.Load()).Seconds()
	return out
}
