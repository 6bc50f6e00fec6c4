package cluster

import (
	"runtime"
	"sync"
	"time"

	"golang.org/x/sys/unix"
)

// CPUSampler measures this process's share of the machine's CPU between
// successive calls of Share, for Load.CPU. Sampling between heartbeats
// rather than over the process lifetime lets placement see the node as it
// is now.
type CPUSampler struct {
	mu       sync.Mutex
	lastCPU  time.Duration
	lastWall time.Time
	now      func() time.Time
	cpu      func() time.Duration
	cores    int
}

// NewCPUSampler starts measuring from now.
func NewCPUSampler() *CPUSampler {
	s := &CPUSampler{now: time.Now, cpu: processCPU, cores: runtime.NumCPU()}
	s.lastCPU, s.lastWall = s.cpu(), s.now()
	return s
}

// Share returns the CPU time the process used since the previous call
// divided by the wall time and the number of cores: 0 idle, 1 every core
// busy. It is safe for concurrent use.
func (s *CPUSampler) Share() float64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	cpu, wall := s.cpu(), s.now()
	elapsed := wall.Sub(s.lastWall)
	used := cpu - s.lastCPU
	s.lastCPU, s.lastWall = cpu, wall
	if elapsed <= 0 || used < 0 {
		return 0
	}
	share := float64(used) / float64(elapsed) / float64(s.cores)
	return min(share, 1)
}

// processCPU is user plus system time of this process so far.
func processCPU() time.Duration {
	var ru unix.Rusage
	if err := unix.Getrusage(unix.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
