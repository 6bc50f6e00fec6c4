// Package netem emulates an impaired network link in user space, for tests
// that put a browser behind a slow, lossy or broken network: this machine's
// kernel has no sch_netem, so `tc netem` is not an option.
//
// Two network namespaces are joined by a pair of TUN devices; the test
// process moves every IP packet between them through a Link per direction,
// which applies a rate limit with a drop-tail queue, random loss, delay and
// jitter, or cuts the link. Nothing leaves the two namespaces: each has
// only its loopback and its TUN device, and the relay forwards only packets
// addressed to the other end.
package netem

import (
	"math/rand/v2"
	"sync"
	"time"
)

// Shape is what one direction of a link does to packets. The zero value
// passes everything at once.
type Shape struct {
	// Rate is the link's capacity in bits per second; 0 = unlimited.
	Rate int64
	// Queue is how long the queue in front of a rate-limited link may get,
	// as sending time at Rate; a packet that would wait longer is dropped
	// (drop-tail). 0 = DefaultQueue.
	Queue time.Duration
	// Loss is the probability of losing a packet at random, 0..1.
	Loss float64
	// Delay is added to every packet; Jitter varies it uniformly by ±Jitter,
	// never reordering packets.
	Delay, Jitter time.Duration
	// Cut drops every packet.
	Cut bool
}

// DefaultQueue is the queue of a rate-limited link when Shape.Queue is 0:
// about what a home router buffers.
const DefaultQueue = 200 * time.Millisecond

// Counters are what a Link did so far.
type Counters struct {
	Passed, QueueDrops, LossDrops, CutDrops uint64
}

// Link schedules the packets of one direction. It is safe for concurrent use.
type Link struct {
	mu    sync.Mutex
	shape Shape
	rng   *rand.Rand
	busy  time.Time // when the link has sent everything queued so far
	last  time.Time // when the last accepted packet is delivered
	count Counters
}

// NewLink returns a link with the given shape; seed makes loss and jitter
// repeatable.
func NewLink(s Shape, seed uint64) *Link {
	return &Link{shape: s, rng: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))}
}

// Set changes the shape from now on; packets already scheduled keep their
// times.
func (l *Link) Set(s Shape) {
	l.mu.Lock()
	l.shape = s
	l.mu.Unlock()
}

// Shape returns the current shape.
func (l *Link) Shape() Shape {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.shape
}

// Counters returns what the link did so far.
func (l *Link) Counters() Counters {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.count
}

// Admit decides the fate of a packet of size bytes arriving at now: when
// it is delivered, or false when it is dropped.
func (l *Link) Admit(size int, now time.Time) (time.Time, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	s := l.shape
	switch {
	case s.Cut:
		l.count.CutDrops++
		return time.Time{}, false
	case s.Loss > 0 && l.rng.Float64() < s.Loss:
		l.count.LossDrops++
		return time.Time{}, false
	}
	sent := now
	if s.Rate > 0 {
		if l.busy.Before(now) {
			l.busy = now
		}
		queue := s.Queue
		if queue == 0 {
			queue = DefaultQueue
		}
		if l.busy.Sub(now) > queue {
			l.count.QueueDrops++
			return time.Time{}, false
		}
		l.busy = l.busy.Add(time.Duration(int64(size) * 8 * int64(time.Second) / s.Rate))
		sent = l.busy
	}
	at := sent.Add(s.Delay)
	if s.Jitter > 0 {
		at = at.Add(time.Duration(l.rng.Int64N(int64(2*s.Jitter)+1)) - s.Jitter)
	}
	if at.Before(l.last) {
		at = l.last // jitter never reorders
	}
	l.last = at
	l.count.Passed++
	return at, true
}
