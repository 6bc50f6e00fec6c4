package udpbatch

import (
	"fmt"
	"net"
	"sync/atomic"
	"syscall"
)

// Socket sends Batches on a UDP socket. It shares the socket with Conn
// (and through it with Pion), which keeps reading and writing ICE, DTLS
// and RTCP as before.
type Socket struct {
	conn  *net.UDPConn
	rc    syscall.RawConn
	v6    bool
	gso   atomic.Bool // the kernel takes UDP_SEGMENT on this socket
	stats counters
}

// counters are the Socket's BatchStats.
type counters struct {
	datagrams, messages, syscalls, gsoSends, gsoDatagrams, gsoFallbacks, errors atomic.Uint64
}

// BatchStats counts what Batches sent.
type BatchStats struct {
	Datagrams    uint64 // datagrams sent
	Messages     uint64 // sendmmsg messages: a GSO send counts once
	Syscalls     uint64 // sendmmsg calls
	GSOSends     uint64 // messages the kernel cut into segments
	GSODatagrams uint64 // datagrams that went out inside them
	GSOFallbacks uint64 // GSO sends refused and sent again datagram by datagram
	Errors       uint64 // messages the kernel refused
}

// NewSocket prepares c for Batches: it sets don't-fragment (a datagram
// larger than the path allows is refused, never fragmented) and finds out
// whether the kernel segments UDP (GSO). c must be a UDP socket of one
// address family, as the SFU's media port is.
func NewSocket(c *net.UDPConn) (*Socket, error) {
	rc, err := c.SyscallConn()
	if err != nil {
		return nil, fmt.Errorf("udpbatch: %w", err)
	}
	s := &Socket{conn: c, rc: rc}
	if la, ok := c.LocalAddr().(*net.UDPAddr); ok && la.IP.To4() == nil && !la.IP.IsUnspecified() {
		s.v6 = true
	}
	if err := setDontFragment(rc, s.v6); err != nil {
		return nil, fmt.Errorf("udpbatch: set don't-fragment: %w", err)
	}
	s.gso.Store(probeGSO(rc))
	return s, nil
}

// GSO reports whether the socket sends runs of datagrams as one GSO send.
func (s *Socket) GSO() bool { return s.gso.Load() }

func (s *Socket) gsoOn() bool { return s.gso.Load() }

// disableGSO is called when the kernel refuses a GSO send (for example a
// route through a device without checksum offload): from then on every
// datagram is its own message.
func (s *Socket) disableGSO() { s.gso.Store(false) }

// Stats returns the counters of every Batch of s.
func (s *Socket) Stats() BatchStats {
	c := &s.stats
	return BatchStats{
		Datagrams:    c.datagrams.Load(),
		Messages:     c.messages.Load(),
		Syscalls:     c.syscalls.Load(),
		GSOSends:     c.gsoSends.Load(),
		GSODatagrams: c.gsoDatagrams.Load(),
		GSOFallbacks: c.gsoFallbacks.Load(),
		Errors:       c.errors.Load(),
	}
}
