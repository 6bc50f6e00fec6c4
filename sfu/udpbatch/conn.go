// Package udpbatch sends many UDP datagrams with few system calls.
//
// The SFU forwards each received packet to every subscriber. The system
// call per packet, not encryption, is the cost that grows with
// subscribers. Two ways through this package:
//
//   - Batch (with Socket): the writer owns a set of slots, writes each
//     datagram (an SRTP packet) straight into one, and Flush sends them all
//     in one sendmmsg; consecutive datagrams to one destination (the
//     packets of one frame to one subscriber) become one UDP GSO send
//     (UDP_SEGMENT), so the kernel's UDP/IP send path runs once for them.
//   - Conn: a net.PacketConn for Pion. Between Begin and End, what Pion
//     writes (its SRTP path ends in WriteTo on this socket) is copied and
//     sent in one sendmmsg at End. Writes outside any batch (ICE, DTLS,
//     RTCP from timers) go out at once.
package udpbatch

import (
	"net"
	"sync"
	"sync/atomic"

	"golang.org/x/net/ipv4"
	"golang.org/x/net/ipv6"
)

// DefaultSize is how many packets a batch holds before it is sent early.
const DefaultSize = 64

// maxPacket is the largest datagram a batch slot copies.
const maxPacket = 1500

// batchWriter is the sendmmsg call of x/net's ipv4 and ipv6 packet conns.
type batchWriter interface {
	WriteBatch(ms []ipv4.Message, flags int) (int, error)
}

// Stats counts what went through the socket.
type Stats struct {
	Packets   uint64 // datagrams sent from batches
	Syscalls  uint64 // sendmmsg calls that sent them
	Direct    uint64 // datagrams written outside any batch
	Errors    uint64 // datagrams the kernel refused
	Oversized uint64 // datagrams too large for a slot, sent directly
}

// Conn is a UDP socket whose writes can be batched. It is a net.PacketConn.
type Conn struct {
	*net.UDPConn
	bw batchWriter

	mu     sync.Mutex
	scopes int // open batches
	n      int // messages pending
	msgs   []ipv4.Message
	bufs   [][]byte
	addrs  []net.UDPAddr
	one    [1][]byte

	packets, syscalls, direct, errors, oversized atomic.Uint64
}

// New wraps c with room for size pending packets (DefaultSize when 0).
func New(c *net.UDPConn, size int) *Conn {
	if size <= 0 {
		size = DefaultSize
	}
	b := &Conn{
		UDPConn: c,
		msgs:    make([]ipv4.Message, size),
		bufs:    make([][]byte, size),
		addrs:   make([]net.UDPAddr, size),
	}
	if la, ok := c.LocalAddr().(*net.UDPAddr); ok && la.IP.To4() == nil && !la.IP.IsUnspecified() {
		b.bw = ipv6.NewPacketConn(c)
	} else {
		b.bw = ipv4.NewPacketConn(c)
	}
	backing := make([]byte, size*maxPacket)
	for i := range b.msgs {
		b.bufs[i] = backing[i*maxPacket : (i+1)*maxPacket : (i+1)*maxPacket]
		b.addrs[i].IP = make(net.IP, 0, net.IPv6len)
		b.msgs[i].Buffers = make([][]byte, 1)
		b.msgs[i].Addr = &b.addrs[i]
	}
	return b
}

// Begin opens a batch: until the matching End, writes are queued.
func (c *Conn) Begin() {
	c.mu.Lock()
	c.scopes++
	c.mu.Unlock()
}

// End closes a batch and sends everything queued, including what other
// goroutines wrote meanwhile, so no packet waits longer than one batch.
func (c *Conn) End() {
	c.mu.Lock()
	c.scopes--
	c.flushLocked()
	c.mu.Unlock()
}

// WriteTo queues b inside a batch and sends it at once outside one.
func (c *Conn) WriteTo(b []byte, addr net.Addr) (int, error) {
	ua, ok := addr.(*net.UDPAddr)
	c.mu.Lock()
	if c.scopes == 0 || !ok || len(b) > maxPacket {
		c.mu.Unlock()
		if len(b) > maxPacket {
			c.oversized.Add(1)
		}
		c.direct.Add(1)
		return c.UDPConn.WriteTo(b, addr)
	}
	if c.n == len(c.msgs) {
		c.flushLocked()
	}
	i := c.n
	c.n++
	m := &c.msgs[i]
	m.Buffers[0] = c.bufs[i][:copy(c.bufs[i], b)]
	a := &c.addrs[i]
	a.IP = append(a.IP[:0], ua.IP...)
	a.Port = ua.Port
	a.Zone = ua.Zone
	c.mu.Unlock()
	return len(b), nil
}

// flushLocked sends the pending messages. A message the kernel refuses is
// counted and skipped so the rest still go.
func (c *Conn) flushLocked() {
	for i := 0; i < c.n; {
		sent, err := c.bw.WriteBatch(c.msgs[i:c.n], 0)
		c.syscalls.Add(1)
		if sent > 0 {
			c.packets.Add(uint64(sent))
			i += sent
		}
		if err != nil {
			c.errors.Add(1)
			i++
		}
	}
	c.n = 0
}

// Stats returns the counters.
func (c *Conn) Stats() Stats {
	return Stats{
		Packets:   c.packets.Load(),
		Syscalls:  c.syscalls.Load(),
		Direct:    c.direct.Load(),
		Errors:    c.errors.Load(),
		Oversized: c.oversized.Load(),
	}
}
