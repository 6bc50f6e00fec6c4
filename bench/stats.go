package bench

import (
	"math"
	"math/rand/v2"
	"slices"
	"sort"
	"strconv"
)

// Percentile returns the p-th percentile (0 < p <= 100) of samples by the
// nearest-rank method: the smallest sample with at least p% of the samples
// at or below it. It sorts samples in place. NaN for no samples.
//
// Nearest rank rather than interpolation: a p99 we report is a latency some
// frame really had.
func Percentile(samples []float64, p float64) float64 {
	if len(samples) == 0 || p <= 0 || p > 100 {
		return math.NaN()
	}
	if !slices.IsSorted(samples) {
		slices.Sort(samples)
	}
	rank := int(math.Ceil(p / 100 * float64(len(samples))))
	return samples[max(rank, 1)-1]
}

// Samples collects values up to a fixed capacity; past it, reservoir
// sampling keeps a uniform sample of everything seen, so a long run costs
// bounded memory. Not safe for concurrent use: one per reader goroutine,
// merged at the end.
type Samples struct {
	vals []float64
	seen int64
	cap  int
	rng  *rand.Rand
}

// NewSamples returns an empty collector keeping at most capacity values.
func NewSamples(capacity int) *Samples {
	return &Samples{cap: max(capacity, 1), rng: rand.New(rand.NewPCG(1, uint64(capacity)))}
}

// Add records one value.
func (s *Samples) Add(v float64) {
	s.seen++
	if len(s.vals) < s.cap {
		s.vals = append(s.vals, v)
		return
	}
	if j := s.rng.Int64N(s.seen); j < int64(s.cap) {
		s.vals[j] = v
	}
}

// Seen is the number of values added, kept or not.
func (s *Samples) Seen() int64 { return s.seen }

// Values returns the kept values (not a copy).
func (s *Samples) Values() []float64 { return s.vals }

// Merge concatenates the kept values of several collectors. When some
// collectors dropped values, each value is repeated in proportion to how
// many it stands for would be more exact; the collectors are sized so that
// a bench run of the documented shapes never drops any.
func Merge(ss ...*Samples) []float64 {
	n := 0
	for _, s := range ss {
		n += len(s.vals)
	}
	out := make([]float64, 0, n)
	for _, s := range ss {
		out = append(out, s.vals...)
	}
	return out
}

// BucketQuantile estimates the q-th quantile (0..1) of a Prometheus
// histogram from its cumulative buckets, keyed by their "le" label as
// ParsePromLabelled returns them (the increase over a window works as
// well as the totals). Within a bucket it interpolates linearly, from 0
// for the first, as Prometheus's histogram_quantile does; a quantile that
// falls beyond the last finite bound is that bound. Unknown without
// observations.
func BucketQuantile(le map[string]float64, q float64) Num {
	type bucket struct{ bound, count float64 }
	var bs []bucket
	total := math.NaN()
	for k, v := range le {
		if k == "+Inf" {
			total = v
			continue
		}
		b, err := strconv.ParseFloat(k, 64)
		if err != nil || v < 0 {
			return Unknown // a negative count: the server restarted between two scrapes
		}
		bs = append(bs, bucket{b, v})
	}
	if math.IsNaN(total) || total <= 0 || len(bs) == 0 {
		return Unknown
	}
	sort.Slice(bs, func(i, j int) bool { return bs[i].bound < bs[j].bound })
	if bs[len(bs)-1].count > total {
		return Unknown // not cumulative: the scrapes do not belong together
	}
	rank := q * total
	lower, below := 0.0, 0.0
	for _, b := range bs {
		if b.count >= rank {
			if b.count == below {
				return Num(b.bound)
			}
			return Num(lower + (b.bound-lower)*(rank-below)/(b.count-below))
		}
		lower, below = b.bound, b.count
	}
	return Num(bs[len(bs)-1].bound)
}
