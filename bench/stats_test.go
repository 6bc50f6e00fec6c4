package bench

import (
	"math"
	"testing"
)

func TestPercentile(t *testing.T) {
	hundred := make([]float64, 100)
	for i := range hundred {
		hundred[i] = float64(100 - i) // reversed: Percentile must sort
	}
	tests := []struct {
		name string
		in   []float64
		p    float64
		want float64
	}{
		{"p50 of 1..100", hundred, 50, 50},
		{"p99 of 1..100", hundred, 99, 99},
		{"p100 of 1..100", hundred, 100, 100},
		{"p1 of 1..100", hundred, 1, 1},
		{"single", []float64{7}, 99, 7},
		{"p50 of two", []float64{3, 1}, 50, 1},
		{"p99 of ten is the max", []float64{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}, 99, 10},
		{"p90 of ten", []float64{10, 9, 8, 7, 6, 5, 4, 3, 2, 1}, 90, 9},
	}
	for _, tt := range tests {
		in := append([]float64(nil), tt.in...)
		if got := Percentile(in, tt.p); got != tt.want {
			t.Errorf("%s: Percentile = %v, want %v", tt.name, got, tt.want)
		}
	}
	for _, p := range []float64{0, -1, 101} {
		if got := Percentile([]float64{1, 2}, p); !math.IsNaN(got) {
			t.Errorf("Percentile(p=%v) = %v, want NaN", p, got)
		}
	}
	if got := Percentile(nil, 50); !math.IsNaN(got) {
		t.Errorf("Percentile(empty) = %v, want NaN", got)
	}
}

func TestSamplesBounded(t *testing.T) {
	s := NewSamples(1000)
	for i := range 100000 {
		s.Add(float64(i % 100))
	}
	if len(s.Values()) != 1000 || s.Seen() != 100000 {
		t.Fatalf("kept %d seen %d, want 1000 and 100000", len(s.Values()), s.Seen())
	}
	// A uniform sample of a uniform 0..99 stream has its median near 50.
	if med := Percentile(append([]float64(nil), s.Values()...), 50); med < 40 || med > 60 {
		t.Errorf("median of reservoir = %v, want about 50", med)
	}
	a, b := NewSamples(10), NewSamples(10)
	a.Add(1)
	b.Add(2)
	b.Add(3)
	if got := Merge(a, b); len(got) != 3 || got[0] != 1 || got[2] != 3 {
		t.Errorf("Merge = %v", got)
	}
}

func BenchmarkSamplesAdd(b *testing.B) {
	s := NewSamples(1 << 16)
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		s.Add(float64(i))
	}
}

func TestBucketQuantile(t *testing.T) {
	// 100 observations: 50 up to 1 ms, 40 in (1, 5] ms, 9 in (5, 10] ms,
	// one beyond 10 ms.
	h := map[string]float64{"0.001": 50, "0.005": 90, "0.01": 99, "+Inf": 100}
	tests := []struct {
		name string
		le   map[string]float64
		q    float64
		want Num
	}{
		{"median at a bound", h, 0.5, 0.001},
		{"inside a bucket", h, 0.7, 0.003},
		{"p99 at the last bound", h, 0.99, 0.01},
		{"beyond the last bound", h, 0.999, 0.01},
		{"first bucket from 0", h, 0.25, 0.0005},
		{"no observations", map[string]float64{"0.001": 0, "+Inf": 0}, 0.5, Unknown},
		{"no +Inf", map[string]float64{"0.001": 5}, 0.5, Unknown},
		{"bad bound", map[string]float64{"x": 5, "+Inf": 5}, 0.5, Unknown},
		{"negative (a restart between scrapes)", map[string]float64{"0.001": -3, "+Inf": 2}, 0.5, Unknown},
	}
	for _, tt := range tests {
		got := BucketQuantile(tt.le, tt.q)
		if tt.want.Known() != got.Known() || (got.Known() && math.Abs(float64(got-tt.want)) > 1e-12) {
			t.Errorf("%s: %v, want %v", tt.name, got, tt.want)
		}
	}
}
