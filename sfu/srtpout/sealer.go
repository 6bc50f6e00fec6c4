package srtpout

import (
	"fmt"

	"github.com/pion/rtp"
	"github.com/pion/srtp/v3"
)

// Sealer encrypts the RTP packets of one sender into buffers its caller
// owns. It keeps the rollover counter of every SSRC it seals; give each
// DownTrack its own so that no two goroutines share one. It is not safe
// for concurrent use.
type Sealer struct {
	ctx *srtp.Context
	hdr rtp.Header // what EncryptRTP parses the marshalled header into
	tag int        // bytes SRTP adds after the payload
}

// NewSealer returns a Sealer for k.
func NewSealer(k Keys) (*Sealer, error) {
	ctx, err := srtp.CreateContext(k.Key, k.Salt, k.Profile)
	if err != nil {
		return nil, fmt.Errorf("srtpout: %w", err)
	}
	tag, err := k.Profile.AuthTagRTPLen()
	if err != nil {
		return nil, fmt.Errorf("srtpout: %w", err)
	}
	if aead, err := k.Profile.AEADAuthTagLen(); err == nil && aead > tag {
		tag = aead
	}
	s := &Sealer{ctx: ctx, tag: tag}
	s.hdr.Extensions = make([]rtp.Extension, 0, 4)
	return s, nil
}

// Overhead is how many bytes SRTP adds to a packet.
func (s *Sealer) Overhead() int { return s.tag }

// Seal writes h and payload as one SRTP packet at the start of dst and
// returns its length. dst must hold the header, the payload and
// Overhead bytes; nothing is allocated.
func (s *Sealer) Seal(dst []byte, h *rtp.Header, payload []byte) (int, error) {
	hl := h.MarshalSize()
	if hl+len(payload)+s.tag > len(dst) {
		return 0, ErrShortBuffer
	}
	if _, err := h.MarshalTo(dst); err != nil {
		return 0, fmt.Errorf("srtpout: %w", err)
	}
	n := hl + copy(dst[hl:], payload)
	out, err := s.ctx.EncryptRTP(dst[:n:len(dst)], dst[:n:len(dst)], &s.hdr)
	if err != nil {
		return 0, fmt.Errorf("srtpout: %w", err)
	}
	if len(out) == 0 || &out[0] != &dst[0] {
		return 0, ErrShortBuffer // pion/srtp had to grow the buffer
	}
	return len(out), nil
}
