package load

import (
	"net"
	"net/netip"
	"sync"
	"time"

	"github.com/pion/transport/v5"
	"github.com/pion/transport/v5/stdnet"
)

// recvNet is the network of a subscriber that reads its socket in a
// lighter way than a plain Pion peer (clientOptions): with UDP_GRO on,
// the kernel queues each GSO send of the SFU as one buffer and recvConn
// splits it into its datagrams; with a direct receiver, SRTP media is
// decrypted and counted in the socket's reader instead of passing through
// Pion's receive chain.
type recvNet struct {
	*stdnet.Net
	gro    bool
	direct *directReceiver // nil: every datagram goes to Pion
}

func newRecvNet(gro bool, direct *directReceiver) (transport.Net, error) {
	n, err := stdnet.NewNet()
	if err != nil {
		return nil, err
	}
	return recvNet{Net: n, gro: gro, direct: direct}, nil
}

// ListenUDP opens the socket ICE gathers its host candidate on.
func (n recvNet) ListenUDP(network string, laddr *net.UDPAddr) (transport.UDPConn, error) {
	c, err := net.ListenUDP(network, laddr)
	if err != nil {
		return nil, err
	}
	// A larger queue than the default (some 200 KB): a generator on one
	// CPU (--two-hosts) can fall behind a frame's burst to 30 sockets
	// for longer than the default holds. The kernel caps it at
	// net.core.rmem_max.
	_ = c.SetReadBuffer(4 << 20)
	if n.gro {
		if err := enableGRO(c); err != nil {
			c.Close()
			return nil, err
		}
	}
	return &recvConn{UDPConn: c, direct: n.direct, buf: make([]byte, 1<<16)}, nil
}

// recvConn hands ICE one datagram at a time out of what the socket
// returns (one datagram, or with UDP_GRO a coalesced run of them), keeping
// back the media its direct receiver takes. ICE reads through
// ReadFromAddrPort (or ReadFrom); the other read methods of the embedded
// socket would bypass both and are not used by ICE.
type recvConn struct {
	*net.UDPConn
	direct *directReceiver

	mu   sync.Mutex
	buf  []byte // the last read
	oob  [64]byte
	rest []byte // what is left of it to hand out
	seg  int    // its segment size
	from netip.AddrPort
	at   time.Time // when it was read
}

// ReadFromAddrPort returns the next datagram that is not the direct
// receiver's.
func (c *recvConn) ReadFromAddrPort(b []byte) (int, netip.AddrPort, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for {
		if len(c.rest) == 0 {
			n, oobn, _, from, err := c.ReadMsgUDPAddrPort(c.buf, c.oob[:])
			if err != nil {
				return 0, netip.AddrPort{}, err
			}
			c.rest, c.from, c.at = c.buf[:n], from, time.Now()
			if c.seg = groSegment(c.oob[:oobn]); c.seg <= 0 {
				c.seg = n
			}
		}
		d := c.rest[:min(c.seg, len(c.rest))]
		c.rest = c.rest[len(d):]
		if c.direct != nil && c.direct.take(d, c.at) {
			continue
		}
		return copy(b, d), c.from, nil
	}
}

// WriteToAddrPort sends one datagram.
func (c *recvConn) WriteToAddrPort(b []byte, addr netip.AddrPort) (int, error) {
	return c.WriteToUDPAddrPort(b, addr)
}

// ReadFrom is ReadFromAddrPort for callers that want a net.Addr.
func (c *recvConn) ReadFrom(b []byte) (int, net.Addr, error) {
	n, from, err := c.ReadFromAddrPort(b)
	if err != nil {
		return n, nil, err
	}
	return n, net.UDPAddrFromAddrPort(from), nil
}
