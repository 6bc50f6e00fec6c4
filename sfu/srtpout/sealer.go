package srtpout

import (
	"crypto/aes"
	"crypto/cipher"
	"encoding/binary"
	"fmt"

	"github.com/pion/rtp"
	"github.com/pion/srtp/v3"
)

// Sealer encrypts the RTP packets of one sender into buffers its caller
// owns. It keeps the rollover counter of every SSRC it seals; give each
// DownTrack its own so that no two goroutines share one. It is not safe
// for concurrent use.
//
// AES-GCM (RFC 7714, what browsers negotiate first) is sealed here: the
// payload is encrypted straight from the caller's buffer into dst behind
// the header, with no copy, no parse of the header just written and no
// lookup of the SSRC's state in a shared map. Other profiles go through
// pion/srtp's Context.
type Sealer struct {
	tag int // bytes SRTP adds after the payload

	// AES-GCM.
	aead cipher.AEAD
	salt [12]byte   // the session salt
	iv   [12]byte   // the packet's, here so that it does not escape to the heap
	rocs []rollover // one per SSRC sealed, in order of first use

	// Other profiles.
	ctx *srtp.Context
	hdr rtp.Header // what EncryptRTP parses the marshalled header into
}

// rollover follows the rollover counter of one SSRC (RFC 3711 §3.3.1).
type rollover struct {
	ssrc uint32
	last uint16 // the highest sequence number sealed
	roc  uint32
}

// NewSealer returns a Sealer for k.
func NewSealer(k Keys) (*Sealer, error) {
	switch k.Profile {
	case srtp.ProtectionProfileAeadAes128Gcm, srtp.ProtectionProfileAeadAes256Gcm:
		return newGCMSealer(k)
	}
	ctx, err := srtp.CreateContext(k.Key, k.Salt, k.Profile)
	if err != nil {
		return nil, fmt.Errorf("srtpout: %w", err)
	}
	tag, err := k.Profile.AuthTagRTPLen()
	if err != nil {
		return nil, fmt.Errorf("srtpout: %w", err)
	}
	s := &Sealer{ctx: ctx, tag: tag}
	s.hdr.Extensions = make([]rtp.Extension, 0, 4)
	return s, nil
}

// SRTP key derivation labels (RFC 3711 §4.3.2).
const (
	labelEncryption = 0x00
	labelSalt       = 0x02
)

func newGCMSealer(k Keys) (*Sealer, error) {
	if len(k.Salt) != 12 {
		return nil, fmt.Errorf("%w: %d-byte master salt for AES-GCM", ErrUnsupported, len(k.Salt))
	}
	key, err := deriveSessionKey(labelEncryption, k.Key, k.Salt, len(k.Key))
	if err != nil {
		return nil, err
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("srtpout: %w", err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, fmt.Errorf("srtpout: %w", err)
	}
	salt, err := deriveSessionKey(labelSalt, k.Key, k.Salt, 12)
	if err != nil {
		return nil, err
	}
	s := &Sealer{aead: aead, tag: aead.Overhead(), rocs: make([]rollover, 0, 2)}
	copy(s.salt[:], salt)
	return s, nil
}

// deriveSessionKey is SRTP's key derivation with a key derivation rate of
// 0 (RFC 3711 §4.3.1, §4.3.3; RFC 7714 §11): AES in counter mode, keyed
// with the master key, over the master salt with the label at byte 7.
func deriveSessionKey(label byte, masterKey, masterSalt []byte, n int) ([]byte, error) {
	block, err := aes.NewCipher(masterKey)
	if err != nil {
		return nil, fmt.Errorf("srtpout: %w", err)
	}
	var in [aes.BlockSize]byte
	copy(in[:], masterSalt)
	in[7] ^= label
	out := make([]byte, (n+aes.BlockSize-1)/aes.BlockSize*aes.BlockSize)
	for i := 0; i*aes.BlockSize < n; i++ {
		binary.BigEndian.PutUint16(in[aes.BlockSize-2:], uint16(i))
		block.Encrypt(out[i*aes.BlockSize:], in[:])
	}
	return out[:n], nil
}

// Overhead is how many bytes SRTP adds to a packet.
func (s *Sealer) Overhead() int { return s.tag }

// Seal writes h and payload as one SRTP packet at the start of dst and
// returns its length. dst must hold the header, the payload and
// Overhead bytes, and must not overlap payload; nothing is allocated.
func (s *Sealer) Seal(dst []byte, h *rtp.Header, payload []byte) (int, error) {
	hl := h.MarshalSize()
	if hl+len(payload)+s.tag > len(dst) {
		return 0, ErrShortBuffer
	}
	if _, err := h.MarshalTo(dst); err != nil {
		return 0, fmt.Errorf("srtpout: %w", err)
	}
	if s.aead != nil {
		// RFC 7714 §8.1: the IV is the session salt XOR the SSRC, the
		// rollover counter and the sequence number; the header is the
		// associated data.
		iv := &s.iv
		binary.BigEndian.PutUint16(iv[0:], 0)
		binary.BigEndian.PutUint32(iv[2:], h.SSRC)
		binary.BigEndian.PutUint32(iv[6:], s.rolloverCount(h.SSRC, h.SequenceNumber))
		binary.BigEndian.PutUint16(iv[10:], h.SequenceNumber)
		for i := range iv {
			iv[i] ^= s.salt[i]
		}
		return hl + len(s.aead.Seal(dst[hl:hl], iv[:], payload, dst[:hl])), nil
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

// rolloverCount returns the rollover counter of the packet ssrc, seq: the
// sender numbers its packets in order, so a sequence number ahead of the
// highest sealed (by less than half the space) moves it on, across a wrap
// the counter too; one behind it is a resend, from before the last wrap
// when it is numerically higher.
func (s *Sealer) rolloverCount(ssrc uint32, seq uint16) uint32 {
	i := 0
	for i < len(s.rocs) && s.rocs[i].ssrc != ssrc {
		i++
	}
	if i == len(s.rocs) {
		s.rocs = append(s.rocs, rollover{ssrc: ssrc, last: seq})
		return 0
	}
	r := &s.rocs[i]
	switch d := int16(seq - r.last); {
	case d > 0:
		if seq < r.last {
			r.roc++
		}
		r.last = seq
		return r.roc
	case seq > r.last && r.roc > 0:
		return r.roc - 1
	default:
		return r.roc
	}
}
