package server

import (
	"crypto/tls"
	"fmt"
	"net"
	"net/netip"
	"sync"
	"time"

	"github.com/monkeythorn/meet/sfu"
	"github.com/monkeythorn/meet/turnserver"
)

// EmbeddedTURN runs a TURN server inside the process for participants whose
// network blocks UDP to the SFU. Its relays reach only the SFU's own media
// port, so it is not an open relay (see package turnserver).
type EmbeddedTURN struct {
	// Host is the name or IP browsers reach the TURN server at; it goes
	// into the turn: URLs handed out with tokens. Required.
	Host string
	// Listen addresses ("" = that transport off, ":0" = any free port in
	// tests). At least one is required; TLSAddr needs TLSConfig.
	UDPAddr, TCPAddr, TLSAddr string
	TLSConfig                 *tls.Config
	// RelayIP is the address put into allocations, the one clients send
	// to: the public IP. Required. RelayBindIP is what relay sockets bind
	// (the private address behind 1:1 NAT); default RelayIP.
	RelayIP, RelayBindIP       net.IP
	RelayPortMin, RelayPortMax uint16
	// TTL of the credentials; default Config.TURN.TTL or DefaultTURNTTL.
	TTL time.Duration
	// Quotas of live allocations per participant, per client address and
	// in total, and the idle time-outs of TCP connections and allocations;
	// zero takes turnserver's defaults (docs/security.md).
	MaxAllocationsPerUser, MaxAllocationsPerSource, MaxAllocations int
	IdleTimeout, AllocationIdleTimeout                             time.Duration
}

// startTURN opens the embedded TURN server, allowing relays only to the
// SFU's media addresses, and returns the URLs clients get.
func (s *Server) startTURN(e *EmbeddedTURN, secret []byte) error {
	if s.sfu == nil {
		return fmt.Errorf("%w: embedded TURN needs the built-in SFU", ErrConfig)
	}
	if e.Host == "" {
		return fmt.Errorf("%w: embedded TURN needs Host, the name or IP browsers reach it at", ErrConfig)
	}
	allowed := sfuAddrs(s.sfu.UDPAddr(), s.cfg.SFU.PublicIP)
	ts, err := turnserver.New(turnserver.Config{
		Secret:       secret,
		UDPAddr:      e.UDPAddr,
		TCPAddr:      e.TCPAddr,
		TLSAddr:      e.TLSAddr,
		TLSConfig:    e.TLSConfig,
		RelayIP:      e.RelayIP,
		RelayBindIP:  e.RelayBindIP,
		RelayPortMin: e.RelayPortMin,
		RelayPortMax: e.RelayPortMax,
		AllowedPeers: turnserver.AllowList(allowed...),
		Logger:       s.log.With("component", "turn"),
		// Credentials are for participants in a call on this node only.
		InCall:                  s.present.has,
		MaxAllocationsPerUser:   e.MaxAllocationsPerUser,
		MaxAllocationsPerSource: e.MaxAllocationsPerSource,
		MaxAllocations:          e.MaxAllocations,
		IdleTimeout:             e.IdleTimeout,
		AllocationIdleTimeout:   e.AllocationIdleTimeout,
	})
	if err != nil {
		return fmt.Errorf("%w: %w", ErrConfig, err) // keeps syscall.EADDRINUSE for the caller's message
	}
	s.turn = ts
	udp, tcp, tlsAddr := ts.Addrs()
	port := func(a net.Addr) string {
		_, p, _ := net.SplitHostPort(a.String())
		return p
	}
	host := e.Host
	if ip, err := netip.ParseAddr(host); err == nil && ip.Is6() {
		host = "[" + host + "]"
	}
	if udp != nil {
		s.turnURLs = append(s.turnURLs, "turn:"+host+":"+port(udp)+"?transport=udp")
	}
	if tcp != nil {
		s.turnURLs = append(s.turnURLs, "turn:"+host+":"+port(tcp)+"?transport=tcp")
	}
	if tlsAddr != nil {
		s.turnURLs = append(s.turnURLs, "turns:"+host+":"+port(tlsAddr)+"?transport=tcp")
	}
	return nil
}

// sfuAddrs lists the addresses a relay may exchange media with: the SFU's
// UDP port on every address it answers on (each interface address when it
// binds all of them) and on the public IP advertised behind NAT. The
// ICE-TCP port is not listed: TURN relays are UDP (TCP allocations are
// refused), and allowing UDP to that port number would only open a port
// the SFU does not use.
func sfuAddrs(media *net.UDPAddr, publicIP string) []netip.AddrPort {
	port := uint16(media.Port)
	var ips []netip.Addr
	if media.IP.IsUnspecified() {
		addrs, _ := net.InterfaceAddrs()
		for _, a := range addrs {
			if n, ok := a.(*net.IPNet); ok {
				if ip, ok := netip.AddrFromSlice(n.IP); ok {
					ips = append(ips, ip.Unmap())
				}
			}
		}
	} else if ip, ok := netip.AddrFromSlice(media.IP); ok {
		ips = append(ips, ip.Unmap())
	}
	if ip, err := netip.ParseAddr(publicIP); err == nil {
		ips = append(ips, ip.Unmap())
	}
	out := make([]netip.AddrPort, 0, len(ips))
	for _, ip := range ips {
		out = append(out, netip.AddrPortFrom(ip, port))
	}
	return out
}

// TURNAddrs returns the embedded TURN server's listen addresses (nil for a
// transport that is off, all nil without embedded TURN).
func (s *Server) TURNAddrs() (udp, tcp, tls net.Addr) {
	if s.turn == nil {
		return nil, nil, nil
	}
	return s.turn.Addrs()
}

// presence is the set of participants in a call on this node, kept from
// the SFU's room events: TURN credentials are only for them.
type presence struct {
	mu  sync.Mutex
	ids map[string]struct{}
}

func newPresence() *presence { return &presence{ids: make(map[string]struct{})} }

// RoomEvent implements sfu.RoomObserver.
func (p *presence) RoomEvent(e sfu.RoomEvent) {
	p.mu.Lock()
	defer p.mu.Unlock()
	switch e := e.(type) {
	case sfu.MemberJoined:
		p.ids[e.ID] = struct{}{}
	case sfu.MemberLeft:
		delete(p.ids, e.ID)
	}
}

func (p *presence) has(id string) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	_, ok := p.ids[id]
	return ok
}
