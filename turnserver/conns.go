package turnserver

import (
	"errors"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// connTracker remembers the TCP connections accepted on the TURN listeners,
// because pion's Server.Close stops accepting but leaves open connections
// (and the goroutines reading them) alive until each client hangs up.
//
// It also closes connections that stay silent for idle: each Read waits at
// most that long, and a TURN client with an allocation sends at least its
// media or ICE checks every few seconds.
type connTracker struct {
	idle     time.Duration
	idleHits *atomic.Uint64

	mu     sync.Mutex
	conns  map[*trackedConn]struct{}
	closed bool
}

func newConnTracker(idle time.Duration, idleHits *atomic.Uint64) *connTracker {
	return &connTracker{idle: idle, idleHits: idleHits, conns: make(map[*trackedConn]struct{})}
}

func (t *connTracker) wrap(ln net.Listener) net.Listener {
	return &trackingListener{Listener: ln, t: t}
}

// add registers c, or closes it at once when the tracker is already closed.
func (t *connTracker) add(c *trackedConn) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed {
		return false
	}
	t.conns[c] = struct{}{}
	return true
}

func (t *connTracker) remove(c *trackedConn) {
	t.mu.Lock()
	delete(t.conns, c)
	t.mu.Unlock()
}

func (t *connTracker) closeAll() {
	t.mu.Lock()
	t.closed = true
	conns := make([]*trackedConn, 0, len(t.conns))
	for c := range t.conns {
		conns = append(conns, c)
	}
	t.mu.Unlock()
	for _, c := range conns {
		_ = c.Close()
	}
}

type trackingListener struct {
	net.Listener
	t *connTracker
}

func (l *trackingListener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		tc := &trackedConn{Conn: c, t: l.t}
		if l.t.add(tc) {
			return tc, nil
		}
		_ = c.Close()
	}
}

type trackedConn struct {
	net.Conn
	t    *connTracker
	once sync.Once
}

func (c *trackedConn) Read(p []byte) (int, error) {
	if c.t.idle > 0 {
		_ = c.Conn.SetReadDeadline(time.Now().Add(c.t.idle))
	}
	n, err := c.Conn.Read(p)
	var ne net.Error
	if err != nil && errors.As(err, &ne) && ne.Timeout() {
		c.t.idleHits.Add(1)
		// pion closes a connection whose read fails, except during a
		// TLS handshake: close it here so that case ends too.
		_ = c.Close()
	}
	return n, err
}

func (c *trackedConn) Close() error {
	c.once.Do(func() { c.t.remove(c) })
	return c.Conn.Close()
}
