package cluster

import (
	"crypto/sha256"
	"testing"
	"time"
)

func TestCPUSamplerShare(t *testing.T) {
	tests := []struct {
		name  string
		cpu   time.Duration // used since the previous sample
		wall  time.Duration
		cores int
		want  float64
	}{
		{"idle", 0, time.Second, 4, 0},
		{"one of four cores", time.Second, time.Second, 4, 0.25},
		{"all cores", 2 * time.Second, time.Second, 2, 1},
		{"clamped", 3 * time.Second, time.Second, 2, 1},
		{"no time passed", time.Second, 0, 2, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			wall := time.Unix(1000, 0)
			var cpu time.Duration
			s := &CPUSampler{now: func() time.Time { return wall }, cpu: func() time.Duration { return cpu }, cores: tt.cores, lastWall: wall}
			wall = wall.Add(tt.wall)
			cpu += tt.cpu
			if got := s.Share(); got != tt.want {
				t.Errorf("Share = %v; want %v", got, tt.want)
			}
		})
	}
}

// The real sampler sees CPU work done between two calls.
func TestCPUSamplerSeesWork(t *testing.T) {
	s := NewCPUSampler()
	sum := sha256.Sum256(nil)
	for start := time.Now(); time.Since(start) < 100*time.Millisecond; {
		sum = sha256.Sum256(sum[:])
	}
	if got := s.Share(); got <= 0 || got > 1 {
		t.Errorf("Share after 100ms of hashing = %v; want in (0, 1]", got)
	}
}
