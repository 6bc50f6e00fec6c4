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

// rollover follows the rollover counter of one SSRC (RFC 3711 §3.3.1)
// exactly as pion/srtp's sender does, so the SFU picks the index, hence
// the nonce, it picked before sealing moved here (TestSealAsPion), and
// the receiver's estimate (RFC 3711 Appendix A) agrees.
type rollover struct {
	ssrc    uint32
	index   uint64 // the highest packet index sealed: rollover counter << 16 | sequence number
	started bool
}

const (
	seqMedian = 1 << 15
	seqSpace  = 1 << 16
	maxROC    = 1<<32 - 1
)

// next guesses the rollover counter of sequence number seq from the
// highest index sealed, and how far seq is ahead of it.
func (r *rollover) next(seq uint16) (roc uint32, ahead int64, overflow bool) {
	s := int32(seq)
	localROC := uint32(r.index >> 16)
	localSeq := int32(r.index & (seqSpace - 1))
	roc = localROC
	var d int32
	switch {
	case !r.started:
	case r.index <= seqMedian: // in the first half of the first cycle
		d = s - localSeq
	case localSeq < seqMedian:
		if s-localSeq > seqMedian {
			roc, d = localROC-1, s-localSeq-seqSpace
		} else {
			d = s - localSeq
		}
	case localSeq-seqMedian > s:
		roc, d = localROC+1, s-localSeq+seqSpace
	default:
		d = s - localSeq
	}
	return roc, int64(d), roc == 0 && localROC == maxROC
}

// sealed moves the highest index on after seq was sealed ahead of it.
func (r *rollover) sealed(seq uint16, ahead int64) {
	switch {
	case !r.started:
		r.index, r.started = uint64(seq), true
	case ahead > 0:
		r.index += uint64(ahead)
	}
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
		r := s.rollover(h.SSRC)
		roc, ahead, overflow := r.next(h.SequenceNumber)
		if overflow {
			return 0, ErrExhausted
		}
		iv := &s.iv
		binary.BigEndian.PutUint16(iv[0:], 0)
		binary.BigEndian.PutUint32(iv[2:], h.SSRC)
		binary.BigEndian.PutUint32(iv[6:], roc)
		binary.BigEndian.PutUint16(iv[10:], h.SequenceNumber)
		for i := range iv {
			iv[i] ^= s.salt[i]
		}
		n := hl + len(s.aead.Seal(dst[hl:hl], iv[:], payload, dst[:hl]))
		r.sealed(h.SequenceNumber, ahead)
		return n, nil
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

// rollover returns the state of ssrc, new on its first packet.
func (s *Sealer) rollover(ssrc uint32) *rollover {
	for i := range s.rocs {
		if s.rocs[i].ssrc == ssrc {
			return &s.rocs[i]
		}
	}
	s.rocs = append(s.rocs, rollover{ssrc: ssrc})
	return &s.rocs[len(s.rocs)-1]
}
