package bench

import (
	"testing"
	"time"
)

func TestParsePromValue(t *testing.T) {
	text := []byte("# HELP go_goroutines x\n# TYPE go_goroutines gauge\ngo_goroutines 42\ngo_goroutines_extra 7\nprocess_open_fds 1.5e+01\nlabelled{a=\"b\"} 3\n")
	tests := []struct {
		name string
		want float64
	}{
		{"go_goroutines", 42}, {"process_open_fds", 15},
	}
	for _, tt := range tests {
		if got := ParsePromValue(text, tt.name); got != Num(tt.want) {
			t.Errorf("%s = %v, want %v", tt.name, got, tt.want)
		}
	}
	for _, name := range []string{"labelled", "missing", "go_gor"} {
		if got := ParsePromValue(text, name); got.Known() {
			t.Errorf("%s = %v, want unknown", name, got)
		}
	}
}

func TestParseHeapInuse(t *testing.T) {
	prof := []byte("heap profile: 1: 2 [3: 4] @ heap/1048576\n\n# runtime.MemStats\n# Alloc = 1\n# HeapInuse = 3031040\n# HeapReleased = 5\n")
	if got := parseHeapInuse(prof); got != 3031040 {
		t.Errorf("HeapInuse = %v", got)
	}
	if got := parseHeapInuse([]byte("# HeapInuse = x\n")); got.Known() {
		t.Errorf("garbage parsed as %v", got)
	}
}

func TestParsePromLabelled(t *testing.T) {
	text := []byte("# TYPE meet_dropped_packets_total counter\nmeet_dropped_packets_total{reason=\"late\"} 12\nmeet_dropped_packets_total{reason=\"congestion\"} 3\nmeet_other{reason=\"late\"} 9\n")
	got := ParsePromLabelled(text, "meet_dropped_packets_total", "reason")
	if len(got) != 2 || got["late"] != 12 || got["congestion"] != 3 {
		t.Errorf("%v", got)
	}
}

func TestStarvationProbe(t *testing.T) {
	p := StartStarvationProbe()
	time.Sleep(100 * time.Millisecond)
	p50, p99 := p.Stop()
	if !p50.Known() || !p99.Known() || p99 < p50 || p50 < 0 {
		t.Errorf("p50 %v p99 %v", p50, p99)
	}
}
