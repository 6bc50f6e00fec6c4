package sfu

import (
	"encoding/binary"
	"net"
	"net/netip"
	"sync"
	"time"

	"github.com/monkeythorn/meet/sfu/udpbatch"
)

// Publishers' packets are timed where they enter the SFU: the media
// socket's reader stamps each with the kernel's receive time and looks up
// whose it is by source address. Timing them later, on each track's reader
// goroutine, adds the scheduling delay of a busy machine, which a browser's
// delay-based estimator takes for a congested uplink (its estimate fell to
// ~100 kbit/s on a loaded test machine with a perfect network).

// arrivalTable maps a publisher connection's remote address to its
// feedback. The media socket's reader is its only hot user.
type arrivalTable struct {
	mu     sync.RWMutex
	byAddr map[netip.AddrPort]*arrivalFeedback
}

func newArrivalTable() *arrivalTable {
	return &arrivalTable{byAddr: make(map[netip.AddrPort]*arrivalFeedback)}
}

// watch sends the packets from addr to f from now on.
func (t *arrivalTable) watch(addr netip.AddrPort, f *arrivalFeedback) {
	t.mu.Lock()
	t.byAddr[addr] = f
	t.mu.Unlock()
}

// forget removes every address of f.
func (t *arrivalTable) forget(f *arrivalFeedback) {
	t.mu.Lock()
	for a, g := range t.byAddr {
		if g == f {
			delete(t.byAddr, a)
		}
	}
	t.mu.Unlock()
}

// observe records one datagram from addr received at now (unix
// nanoseconds) if it is RTP of a watched publisher. It allocates nothing.
func (t *arrivalTable) observe(b []byte, addr netip.AddrPort, now int64) {
	if len(b) < 12 || b[0]>>6 != 2 || (b[1] >= 192 && b[1] <= 223) {
		return // not RTP: STUN, DTLS, or RTCP (RFC 5761)
	}
	t.mu.RLock()
	f := t.byAddr[addr]
	t.mu.RUnlock()
	if f != nil {
		f.observe(b, now)
	}
}

// transportSeqExt returns the payload of one-byte or two-byte header
// extension id (RFC 8285) of the RTP packet b, or nil. SRTP leaves the
// header and its extensions in clear.
func transportSeqExt(b []byte, id uint8) []byte {
	if id == 0 || len(b) < 12 || b[0]&0x10 == 0 {
		return nil
	}
	off := 12 + 4*int(b[0]&0x0f)
	if len(b) < off+4 {
		return nil
	}
	profile := binary.BigEndian.Uint16(b[off:])
	end := off + 4 + 4*int(binary.BigEndian.Uint16(b[off+2:]))
	if end > len(b) {
		return nil
	}
	ext := b[off+4 : end]
	switch {
	case profile == 0xBEDE:
		for i := 0; i < len(ext); {
			eid, l := ext[i]>>4, int(ext[i]&0x0f)+1
			switch {
			case ext[i] == 0:
				i++ // padding
				continue
			case eid == 15:
				return nil
			case i+1+l > len(ext):
				return nil
			case eid == id:
				return ext[i+1 : i+1+l]
			}
			i += 1 + l
		}
	case profile&0xFFF0 == 0x1000:
		for i := 0; i+1 < len(ext); {
			eid, l := ext[i], int(ext[i+1])
			switch {
			case eid == 0:
				i++
				continue
			case i+2+l > len(ext):
				return nil
			case eid == id:
				return ext[i+2 : i+2+l]
			}
			i += 2 + l
		}
	}
	return nil
}

// stampConn is the media socket as the ICE mux reads it: each datagram is
// timed by the kernel and shown to the arrival table before Pion gets it.
// Writes go through the send batcher.
type stampConn struct {
	*udpbatch.Conn
	raw      *net.UDPConn
	arrivals *arrivalTable
	oob      []byte // the mux has one reader goroutine
	kernel   bool   // receive timestamps are on
}

func newStampConn(raw *net.UDPConn, batch *udpbatch.Conn, t *arrivalTable) *stampConn {
	c := &stampConn{Conn: batch, raw: raw, arrivals: t, oob: make([]byte, 128)}
	c.kernel = enableRxTimestamps(raw) == nil
	return c
}

// ReadFrom reads one datagram, as net.PacketConn.
func (c *stampConn) ReadFrom(b []byte) (int, net.Addr, error) {
	n, oobn, _, ap, err := c.raw.ReadMsgUDPAddrPort(b, c.oob)
	if err != nil {
		return n, nil, err
	}
	now := int64(0)
	if c.kernel {
		now = rxTimestamp(c.oob[:oobn])
	}
	if now == 0 {
		now = time.Now().UnixNano()
	}
	c.arrivals.observe(b[:n], ap, now)
	return n, net.UDPAddrFromAddrPort(ap), nil
}
