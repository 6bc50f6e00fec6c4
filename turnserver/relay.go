package turnserver

import (
	"fmt"
	"net"
	"time"

	"github.com/pion/turn/v5"
)

// relayGenerator wraps one of pion's relay address generators so every relay
// socket it hands out is a peerFilter, and refuses TCP relays.
type relayGenerator struct {
	inner    turn.RelayAddressGenerator
	allowed  func(net.IP, int) bool
	stats    *counters
	min, max uint16 // optional port range; 0,0 = any
	idle     time.Duration
}

func (g *relayGenerator) Validate() error { return g.inner.Validate() }

func (g *relayGenerator) AllocatePacketConn(c turn.AllocateListenerConfig) (net.PacketConn, net.Addr, error) {
	// pion's range generator honours a requested port (EVEN-PORT
	// reservations) without checking it against the range.
	if c.RequestedPort != 0 && g.min != 0 && (c.RequestedPort < int(g.min) || c.RequestedPort > int(g.max)) {
		return nil, nil, fmt.Errorf("%w: %d", ErrRequestedPort, c.RequestedPort)
	}
	conn, addr, err := g.inner.AllocatePacketConn(c)
	if err != nil {
		return nil, nil, err
	}
	return &peerFilter{PacketConn: conn, allowed: g.allowed, stats: g.stats, idle: g.idle}, addr, nil
}

func (g *relayGenerator) AllocateListener(turn.AllocateListenerConfig) (net.Listener, net.Addr, error) {
	return nil, nil, ErrTCPRelayRefused
}

func (g *relayGenerator) AllocateConn(turn.AllocateConnConfig) (net.Conn, error) {
	return nil, ErrTCPRelayRefused
}
