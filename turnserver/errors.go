package turnserver

import "errors"

var (
	// ErrConfig means a Config is unusable; the wrapped text says why.
	ErrConfig = errors.New("turnserver: bad configuration")
	// ErrPeerNotAllowed is returned by relay sockets for a datagram to an
	// address outside Config.AllowedPeers.
	ErrPeerNotAllowed = errors.New("turnserver: peer address not allowed")
	// ErrTCPRelayRefused is returned for RFC 6062 TCP relay allocations.
	ErrTCPRelayRefused = errors.New("turnserver: TCP relay allocations are not offered")
	// ErrRequestedPort is returned when a client asks for a relay port
	// outside the configured range.
	ErrRequestedPort = errors.New("turnserver: requested relay port outside the allowed range")
)
