package sfu

import (
	"encoding/binary"
	"net"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/pion/stun/v4"

	"github.com/monkeythorn/meet/sfu/udpbatch"
)

// Publishers' packets are timed where they enter the SFU: the media
// socket's reader stamps each with the kernel's receive time and looks up
// whose it is by source address. Timing them later, on each track's reader
// goroutine, adds the scheduling delay of a busy machine, which a browser's
// delay-based estimator takes for a congested uplink (its estimate fell to
// ~100 kbit/s on a loaded test machine with a perfect network).
//
// The addresses are learnt the way the ICE mux learns them: from the STUN
// binding requests a publisher's browser sends on every candidate pair it
// may use, whose USERNAME starts with the SFU's ufrag for that connection
// and whose MESSAGE-INTEGRITY only that browser can compute. Watching the
// ICE agent's selected pair instead missed a browser that nominated
// another pair: it sent its media from an address nobody watched, got no
// feedback, and after 3 s without feedback cut its estimate by a fifth
// every second, to 87 kbit/s (a 320x180 call on a perfect network).

// maxArrivalAddrs is how many source addresses a publisher connection's
// feedback keeps; a new one beyond replaces the oldest.
const maxArrivalAddrs = 8

// arrivalTable maps a publisher connection's remote addresses to its
// feedback. The media socket's reader is its only hot user.
type arrivalTable struct {
	mu      sync.RWMutex
	byAddr  map[netip.AddrPort]*arrivalFeedback
	byUfrag map[string]arrivalCreds
}

// arrivalCreds are the SFU's ICE credentials of one publisher connection.
type arrivalCreds struct {
	pwd string
	f   *arrivalFeedback
}

func newArrivalTable() *arrivalTable {
	return &arrivalTable{byAddr: make(map[netip.AddrPort]*arrivalFeedback), byUfrag: make(map[string]arrivalCreds)}
}

// expect has the table learn the addresses of the publisher connection
// whose local ICE credentials are ufrag and pwd, replacing f's earlier
// credentials (an ICE restart brings new ones).
func (t *arrivalTable) expect(ufrag, pwd string, f *arrivalFeedback) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for u, c := range t.byUfrag {
		if c.f == f {
			delete(t.byUfrag, u)
		}
	}
	t.byUfrag[ufrag] = arrivalCreds{pwd: pwd, f: f}
}

// forget removes every address and credential of f.
func (t *arrivalTable) forget(f *arrivalFeedback) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, a := range f.addrs {
		if t.byAddr[a] == f {
			delete(t.byAddr, a)
		}
	}
	f.addrs = nil
	for u, c := range t.byUfrag {
		if c.f == f {
			delete(t.byUfrag, u)
		}
	}
}

// learn reads a datagram from addr that may be a STUN binding request to
// one of the expected publisher connections, and if it is an authentic
// one, sends that connection's packets from addr to its feedback. The
// last connection to check from an address owns it: a publisher's old
// address may later be another's (a NAT reusing a port after a network
// change), and the new owner's checks must win over the stale mapping.
func (t *arrivalTable) learn(b []byte, addr netip.AddrPort) {
	const headerSize, magicCookie = 20, 0x2112A442 // RFC 8489 section 5
	if len(b) < headerSize || binary.BigEndian.Uint16(b) != stun.BindingRequest.Value() ||
		binary.BigEndian.Uint32(b[4:]) != magicCookie {
		return
	}
	m := &stun.Message{Raw: append([]byte(nil), b...)}
	var user stun.Username
	if m.Decode() != nil || user.GetFrom(m) != nil {
		return
	}
	local, _, _ := strings.Cut(user.String(), ":")
	t.mu.RLock()
	c, ok := t.byUfrag[local]
	owned := ok && t.byAddr[addr] == c.f
	t.mu.RUnlock()
	if !ok || owned || stun.NewShortTermIntegrity(c.pwd).Check(m) != nil {
		return // not expected, already learnt (consent checks), or not authentic
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if cur, ok := t.byUfrag[local]; !ok || cur.f != c.f {
		return // forgotten or restarted meanwhile
	}
	f := c.f
	if old := t.byAddr[addr]; old != nil {
		if old == f {
			return
		}
		old.addrs = slices.DeleteFunc(old.addrs, func(a netip.AddrPort) bool { return a == addr })
	}
	if len(f.addrs) == maxArrivalAddrs {
		if t.byAddr[f.addrs[0]] == f {
			delete(t.byAddr, f.addrs[0])
		}
		f.addrs = f.addrs[1:]
	}
	f.addrs = append(f.addrs, addr)
	t.byAddr[addr] = f
}

// observe records one datagram from addr received at now (unix
// nanoseconds) if it is RTP of a known publisher. It allocates nothing.
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
	if n > 0 && b[0]>>6 == 0 {
		c.arrivals.learn(b[:n], ap)
	} else {
		c.arrivals.observe(b[:n], ap, now)
	}
	return n, net.UDPAddrFromAddrPort(ap), nil
}
