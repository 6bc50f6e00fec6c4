package turnserver

import (
	"errors"
	"net"
	"net/netip"
	"sync/atomic"
	"time"
)

// AllowList returns an AllowedPeers function that admits exactly addrs. Port
// 0 in a query (a permission request, which covers a whole IP) matches any
// entry with that IP. IPv4-mapped IPv6 addresses match their IPv4 form.
func AllowList(addrs ...netip.AddrPort) func(net.IP, int) bool {
	exact := make(map[netip.AddrPort]struct{}, len(addrs))
	ips := make(map[netip.Addr]struct{}, len(addrs))
	for _, a := range addrs {
		a = netip.AddrPortFrom(a.Addr().Unmap(), a.Port())
		exact[a] = struct{}{}
		ips[a.Addr()] = struct{}{}
	}
	return func(ip net.IP, port int) bool {
		addr, ok := netip.AddrFromSlice(ip)
		if !ok || port < 0 || port > 65535 {
			return false
		}
		addr = addr.Unmap()
		if port == 0 {
			_, ok = ips[addr]
			return ok
		}
		_, ok = exact[netip.AddrPortFrom(addr, uint16(port))]
		return ok
	}
}

// peerFilter wraps a relay socket so it only talks to allowed peers. pion
// hands relayed data to WriteTo and reads peer data with ReadFrom, so these
// two methods see every relayed datagram.
type peerFilter struct {
	net.PacketConn
	allowed func(net.IP, int) bool
	stats   *counters
	idle    time.Duration // ReadFrom fails after this long without a packet from an allowed peer
}

func (f *peerFilter) WriteTo(p []byte, addr net.Addr) (int, error) {
	ua, ok := addr.(*net.UDPAddr)
	if !ok || !f.allowed(ua.IP, ua.Port) {
		f.stats.droppedToPeer.Add(1)
		return 0, ErrPeerNotAllowed
	}
	return f.PacketConn.WriteTo(p, addr)
}

// ReadFrom discards datagrams from addresses that are not allowed, so
// nothing but the SFU can reach a client through its relay even when it
// shares an IP with the SFU.
//
// It also ends idle allocations: pion deletes an allocation whose relay
// socket fails to read, so a read that waits longer than idle for the SFU
// ends it.
func (f *peerFilter) ReadFrom(p []byte) (int, net.Addr, error) {
	if f.idle > 0 {
		_ = f.PacketConn.SetReadDeadline(time.Now().Add(f.idle))
	}
	for {
		n, addr, err := f.PacketConn.ReadFrom(p)
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				f.stats.idleAllocations.Add(1)
			}
			return n, addr, err
		}
		if ua, ok := addr.(*net.UDPAddr); ok && f.allowed(ua.IP, ua.Port) {
			return n, addr, nil
		}
		f.stats.droppedFromPeer.Add(1)
	}
}

// counters are the drop counts behind Server.Stats.
type counters struct {
	refusedPermissions atomic.Uint64
	droppedToPeer      atomic.Uint64
	droppedFromPeer    atomic.Uint64
	authFailures       atomic.Uint64
	notInCall          atomic.Uint64
	quotaRefusals      atomic.Uint64
	sourceQuota        atomic.Uint64
	totalQuota         atomic.Uint64
	idleConns          atomic.Uint64
	idleAllocations    atomic.Uint64
}
