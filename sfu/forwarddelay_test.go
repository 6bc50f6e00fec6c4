package sfu

import (
	"sync"
	"testing"
	"time"

	"github.com/pion/rtp"
)

func TestDelayHistogramBuckets(t *testing.T) {
	tests := []struct {
		d      time.Duration
		bucket int
	}{
		{-time.Millisecond, 0}, // a clock step backwards counts as no delay
		{0, 0},
		{250 * time.Microsecond, 0}, // bounds are inclusive, as Prometheus's le
		{251 * time.Microsecond, 1},
		{time.Millisecond, 2},
		{4 * time.Millisecond, 5},
		{9 * time.Millisecond, 7},
		{250 * time.Millisecond, 11},
		{time.Second, 12},
	}
	for _, tt := range tests {
		var h delayHistogram
		h.observe(int64(tt.d))
		s := h.snapshot()
		if len(s.Counts) != len(s.Bounds)+1 || s.Count() != 1 || s.Counts[tt.bucket] != 1 {
			t.Errorf("%v: counts %v, want one in bucket %d (bounds %v)", tt.d, s.Counts, tt.bucket, s.Bounds)
		}
		if want := max(tt.d, 0).Seconds(); s.Sum != want {
			t.Errorf("%v: sum %v, want %v", tt.d, s.Sum, want)
		}
	}
}

// TestForwardDelayCounted: a frame whose first packet arrived 4 ms before
// it is forwarded is counted between 3 and 5 ms (and so, at most, plus the
// time the test itself takes); one without an arrival time (0) is not.
func TestForwardDelayCounted(t *testing.T) {
	pool, up, _ := fakeFanout(t, 2)
	var wg sync.WaitGroup
	buf := make([]byte, 100)
	h := rtp.Header{Version: 2, PayloadType: 96, SequenceNumber: 100}
	n, _ := h.MarshalTo(buf)
	buf[n] = 0x10
	p := packet{header: &h, payload: buf[n : n+1], esn: 65536 + 100, keyframe: true, now: time.Now().Add(-4 * time.Millisecond).UnixNano()}
	pool.forward(*up.downs.Load(), []*packet{&p}, &wg)
	p.now = 0
	pool.forward(*up.downs.Load(), []*packet{&p}, &wg)
	s := pool.delay.snapshot()
	if s.Count() != 1 || s.Counts[5] != 1 {
		t.Fatalf("counts %v over bounds %v, want the one timed frame in (3 ms, 5 ms]", s.Counts, s.Bounds)
	}
	if s.Sum < 0.004 {
		t.Errorf("sum %v s, want at least 4 ms", s.Sum)
	}
}
