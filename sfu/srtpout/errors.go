package srtpout

import "errors"

var (
	// ErrNotCaptured means the handshake is not finished, or the SFU was
	// the DTLS client (whose key log lacks the server random): send
	// through Pion instead.
	ErrNotCaptured = errors.New("srtpout: DTLS keys not captured")
	// ErrUnsupported means the negotiation uses something Sealer does not.
	ErrUnsupported = errors.New("srtpout: unsupported")
	// ErrShortBuffer means the packet does not fit the buffer given.
	ErrShortBuffer = errors.New("srtpout: buffer too small")
	// ErrExhausted means an SSRC sealed 2^48 packets: its index space,
	// hence its nonces, are used up.
	ErrExhausted = errors.New("srtpout: SRTP index space exhausted")
)
