package netem

import (
	"math"
	"testing"
	"time"
)

func TestLinkRateAndQueue(t *testing.T) {
	// 1 Mbit/s, 100 ms of queue: a 1250-byte packet takes 10 ms to send,
	// so ten fit in the queue and the rest of a burst is dropped.
	l := NewLink(Shape{Rate: 1_000_000, Queue: 100 * time.Millisecond}, 1)
	now := time.Unix(1000, 0)
	var passed int
	var last time.Time
	for range 30 {
		if at, ok := l.Admit(1250, now); ok {
			passed++
			last = at
		}
	}
	if passed != 11 {
		t.Errorf("burst of 30: %d passed, want 11 (one sending, ten queued)", passed)
	}
	if got := last.Sub(now); got != 110*time.Millisecond {
		t.Errorf("last packet delivered after %v, want 110ms", got)
	}
	if c := l.Counters(); c.QueueDrops != 19 || c.Passed != 11 {
		t.Errorf("counters %+v", c)
	}
	// Once the queue has drained, packets pass again.
	if _, ok := l.Admit(1250, now.Add(200*time.Millisecond)); !ok {
		t.Error("packet after the queue drained was dropped")
	}
}

func TestLinkSustainedRate(t *testing.T) {
	// Offer 2 Mbit/s to a 500 kbit/s link for 10 s: about a quarter passes.
	l := NewLink(Shape{Rate: 500_000}, 1)
	start := time.Unix(1000, 0)
	bytes := 0
	for i := range 2000 { // 1250 bytes every 5 ms
		if _, ok := l.Admit(1250, start.Add(time.Duration(i)*5*time.Millisecond)); ok {
			bytes += 1250
		}
	}
	rate := float64(bytes*8) / 10
	if math.Abs(rate-500_000) > 30_000 {
		t.Errorf("passed %.0f bit/s, want about 500000", rate)
	}
}

func TestLinkLossDelayJitterCut(t *testing.T) {
	tests := []struct {
		name       string
		shape      Shape
		wantPass   float64 // share passed
		minD, maxD time.Duration
	}{
		{"open", Shape{}, 1, 0, 0},
		{"5% loss", Shape{Loss: 0.05}, 0.95, 0, 0},
		{"delay", Shape{Delay: 100 * time.Millisecond}, 1, 100 * time.Millisecond, 100 * time.Millisecond},
		{"jitter", Shape{Delay: 100 * time.Millisecond, Jitter: 20 * time.Millisecond}, 1, 80 * time.Millisecond, 120 * time.Millisecond},
		{"cut", Shape{Cut: true}, 0, 0, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := NewLink(tt.shape, 7)
			start := time.Unix(1000, 0)
			const n = 20000
			passed := 0
			var prev time.Time
			for i := range n {
				now := start.Add(time.Duration(i) * 20 * time.Millisecond)
				at, ok := l.Admit(200, now)
				if !ok {
					continue
				}
				passed++
				if d := at.Sub(now); d < tt.minD || d > tt.maxD+20*time.Millisecond {
					t.Fatalf("packet %d delayed %v, want %v..%v", i, d, tt.minD, tt.maxD)
				}
				if at.Before(prev) {
					t.Fatalf("packet %d reordered", i)
				}
				prev = at
			}
			if share := float64(passed) / n; math.Abs(share-tt.wantPass) > 0.01 {
				t.Errorf("passed %.3f, want %.3f", share, tt.wantPass)
			}
		})
	}
}
