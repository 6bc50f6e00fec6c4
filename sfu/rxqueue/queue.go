// Package rxqueue is the queue between Pion's SRTP decryption and the
// SFU's reader of one received stream, bounded in time as well as in count.
//
// When the server cannot keep up, packets wait here before the reader gets
// them, and forwarding them anyway delivers media seconds late to every
// subscriber. Each packet is stamped when it is queued; the reader is never
// handed one that waited longer than MaxAge: those are dropped and
// counted, so a reader that falls behind catches up by skipping old
// packets, and what it forwards is at most MaxAge late. A full queue drops
// its oldest packet for the newest.
//
// A Queue is an io.ReadWriteCloser with SetReadDeadline, which is what
// Pion's SettingEngine.BufferFactory must return.
package rxqueue

import (
	"io"
	"os"
	"sync"
	"sync/atomic"
	"time"
)

// MaxPacket is the largest packet a slot holds; a longer one is cut, as a
// UDP read into a buffer of this size would be.
const MaxPacket = 1500

// Drops counts what queues dropped. One Drops may be shared by many queues.
type Drops struct {
	Late atomic.Uint64 // waited longer than MaxAge
	Full atomic.Uint64 // pushed out by a newer packet when the queue was full
}

// Config sets a Queue's bounds.
type Config struct {
	MaxAge     time.Duration
	MaxPackets int
	Drops      *Drops           // where to count; nil counts nowhere
	Now        func() time.Time // default time.Now
}

type entry struct {
	data []byte
	at   int64 // unix nanoseconds queued
}

// Queue is one stream's queue. Write may be called from one goroutine and
// Read from another.
type Queue struct {
	cfg    Config
	notify chan struct{} // capacity 1: something was written or closed

	mu       sync.Mutex
	ring     []entry
	head, n  int
	closed   bool
	deadline time.Time
}

// New returns an empty queue.
func New(cfg Config) *Queue {
	if cfg.MaxPackets <= 0 {
		cfg.MaxPackets = 512
	}
	if cfg.Drops == nil {
		cfg.Drops = &Drops{}
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Queue{cfg: cfg, notify: make(chan struct{}, 1)}
}

// Write queues a copy of p. It never blocks.
func (q *Queue) Write(p []byte) (int, error) {
	now := q.cfg.Now().UnixNano()
	q.mu.Lock()
	if q.closed {
		q.mu.Unlock()
		return 0, io.ErrClosedPipe
	}
	if q.n == q.cfg.MaxPackets {
		q.head = (q.head + 1) % len(q.ring)
		q.n--
		q.cfg.Drops.Full.Add(1)
	}
	if q.n == len(q.ring) {
		q.grow()
	}
	e := &q.ring[(q.head+q.n)%len(q.ring)]
	if e.data == nil {
		e.data = make([]byte, 0, MaxPacket)
	}
	e.data = append(e.data[:0], p[:min(len(p), MaxPacket)]...)
	e.at = now
	q.n++
	q.mu.Unlock()
	q.wake()
	return len(p), nil
}

// grow doubles the ring (up to MaxPackets), keeping the order.
func (q *Queue) grow() {
	size := min(max(2*len(q.ring), 8), q.cfg.MaxPackets)
	ring := make([]entry, size)
	for i := range q.n {
		ring[i] = q.ring[(q.head+i)%len(q.ring)]
	}
	// Reuse the slots beyond the queued ones too.
	for i := q.n; i < len(q.ring); i++ {
		ring[i] = q.ring[(q.head+i)%len(q.ring)]
	}
	q.ring, q.head = ring, 0
}

func (q *Queue) wake() {
	select {
	case q.notify <- struct{}{}:
	default:
	}
}

// Read copies the oldest packet not older than MaxAge into p, waiting for
// one; packets that waited longer are dropped first. It returns io.EOF once
// closed and empty, and os.ErrDeadlineExceeded after the read deadline.
func (q *Queue) Read(p []byte) (int, error) {
	for {
		q.mu.Lock()
		now := q.cfg.Now().UnixNano()
		for q.n > 0 && now-q.ring[q.head].at > int64(q.cfg.MaxAge) {
			q.head = (q.head + 1) % len(q.ring)
			q.n--
			q.cfg.Drops.Late.Add(1)
		}
		if q.n > 0 {
			e := &q.ring[q.head]
			if len(e.data) > len(p) {
				q.mu.Unlock()
				return 0, io.ErrShortBuffer
			}
			n := copy(p, e.data)
			q.head = (q.head + 1) % len(q.ring)
			q.n--
			q.mu.Unlock()
			return n, nil
		}
		if q.closed {
			q.mu.Unlock()
			return 0, io.EOF
		}
		deadline := q.deadline
		q.mu.Unlock()
		if err := q.wait(deadline); err != nil {
			return 0, err
		}
	}
}

// wait blocks until something is written, the queue closes, or deadline.
func (q *Queue) wait(deadline time.Time) error {
	if deadline.IsZero() {
		<-q.notify
		return nil
	}
	d := time.Until(deadline)
	if d <= 0 {
		return os.ErrDeadlineExceeded
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-q.notify:
		return nil
	case <-t.C:
		return os.ErrDeadlineExceeded
	}
}

// SetReadDeadline makes a waiting or later Read return after t; the zero
// time removes the deadline.
func (q *Queue) SetReadDeadline(t time.Time) error {
	q.mu.Lock()
	q.deadline = t
	q.mu.Unlock()
	q.wake() // a waiting Read picks up the new deadline
	return nil
}

// Close ends the queue: Read returns what is queued, then io.EOF.
func (q *Queue) Close() error {
	q.mu.Lock()
	q.closed = true
	q.mu.Unlock()
	q.wake()
	return nil
}
