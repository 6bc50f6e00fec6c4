package load

import (
	"net"
	"net/netip"
	"sync"
	"unsafe"

	"github.com/pion/transport/v5"
	"github.com/pion/transport/v5/stdnet"
	"golang.org/x/sys/unix"
)

// groNet is the network of a subscriber whose socket takes UDP GSO sends
// whole (UDP_GRO): the kernel queues one buffer per send instead of one
// per datagram, and groConn splits it in user space. A remote receiver
// costs the sender nothing; on loopback the receiver's queueing is billed
// to the sender, so this is the nearer picture of a server whose
// subscribers are on other machines.
type groNet struct {
	*stdnet.Net
}

func newGRONet() (transport.Net, error) {
	n, err := stdnet.NewNet()
	if err != nil {
		return nil, err
	}
	return groNet{n}, nil
}

// ListenUDP opens the socket ICE gathers its host candidate on, with
// UDP_GRO on; without it (an old kernel) the plain socket.
func (n groNet) ListenUDP(network string, laddr *net.UDPAddr) (transport.UDPConn, error) {
	c, err := net.ListenUDP(network, laddr)
	if err != nil {
		return nil, err
	}
	rc, err := c.SyscallConn()
	if err != nil {
		return c, nil //nolint:nilerr // the plain socket still works
	}
	var serr error
	if err := rc.Control(func(fd uintptr) {
		serr = unix.SetsockoptInt(int(fd), unix.IPPROTO_UDP, unix.UDP_GRO, 1)
	}); err != nil || serr != nil {
		return c, nil //nolint:nilerr // the plain socket still works
	}
	return &groConn{UDPConn: c, buf: make([]byte, 1<<16)}, nil
}

// groConn reads coalesced datagrams and hands them out one at a time. ICE
// reads through ReadFromAddrPort (or ReadFrom); the other read methods of
// the embedded socket would return whole buffers and are not used by ICE.
type groConn struct {
	*net.UDPConn

	mu   sync.Mutex
	buf  []byte // the last coalesced read
	oob  [64]byte
	rest []byte // what is left of it to hand out
	seg  int    // its segment size
	from netip.AddrPort
}

// ReadFromAddrPort returns the next datagram.
func (c *groConn) ReadFromAddrPort(b []byte) (int, netip.AddrPort, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.rest) == 0 {
		n, oobn, _, from, err := c.ReadMsgUDPAddrPort(c.buf, c.oob[:])
		if err != nil {
			return 0, netip.AddrPort{}, err
		}
		c.rest, c.from = c.buf[:n], from
		c.seg = groSegment(c.oob[:oobn])
		if c.seg <= 0 {
			c.seg = n
		}
	}
	seg := c.rest[:min(c.seg, len(c.rest))]
	c.rest = c.rest[len(seg):]
	return copy(b, seg), c.from, nil
}

// WriteToAddrPort sends one datagram.
func (c *groConn) WriteToAddrPort(b []byte, addr netip.AddrPort) (int, error) {
	return c.WriteToUDPAddrPort(b, addr)
}

// ReadFrom is ReadFromAddrPort for callers that want a net.Addr.
func (c *groConn) ReadFrom(b []byte) (int, net.Addr, error) {
	n, from, err := c.ReadFromAddrPort(b)
	if err != nil {
		return n, nil, err
	}
	return n, net.UDPAddrFromAddrPort(from), nil
}

// groSegment returns the segment size the kernel reports for a coalesced
// read, or 0 for a single datagram.
func groSegment(oob []byte) int {
	for len(oob) >= unix.SizeofCmsghdr {
		h := (*unix.Cmsghdr)(unsafe.Pointer(&oob[0]))
		l := int(h.Len)
		if l < unix.SizeofCmsghdr || l > len(oob) {
			return 0
		}
		if h.Level == unix.IPPROTO_UDP && h.Type == unix.UDP_GRO && l >= unix.CmsgLen(4) {
			return int(*(*int32)(unsafe.Pointer(&oob[unix.CmsgLen(0)])))
		}
		oob = oob[min(unix.CmsgSpace(l-unix.CmsgLen(0)), len(oob)):]
	}
	return 0
}
