package e2ee

import (
	"crypto/cipher"
	"log/slog"
	"slices"
)

// Frame format constants; docs/e2ee.md §2.
const (
	TagLen      = 16
	IVLen       = 12
	TrailerLen  = IVLen + 2
	Overhead    = TagLen + TrailerLen // bytes EncryptFrame adds to a VP8 or Opus frame
	clearVP8Key = 10                  // frame tag (3) + start code (3) + width/height (4)
	clearVP8    = 3                   // frame tag
	clearOpus   = 1                   // TOC byte

	// InjectedKeyIndex was v1's mark of a frame the SFU made. v2 accepts
	// no such frame (docs/e2ee.md §7): a sender never uses it and a
	// receiver drops every frame under it.
	InjectedKeyIndex = 255
)

// SenderKey encrypts and decrypts the frames of one sender under one key
// index. It is safe for concurrent use.
type SenderKey struct {
	aead  cipher.AEAD
	index byte
}

// KeyIndex is the key index DecryptFrame accepts.
func (s *SenderKey) KeyIndex() byte { return s.index }

// LogValue keeps key material out of logs.
func (s *SenderKey) LogValue() slog.Value {
	return slog.GroupValue(slog.Int("key_index", int(s.index)), slog.String("key", "REDACTED"))
}

func clearLen(codec Codec, keyFrame bool, n int) int {
	c := clearVP8
	switch {
	case codec == CodecOpus:
		c = clearOpus
	case keyFrame:
		c = clearVP8Key
	}
	return min(c, n)
}

// EncryptFrame appends the encrypted form of frame to dst and returns the
// extended slice. iv must never repeat under this key (use an IVSequence per
// track); keyIndex is written to the trailer and must be 0..254. keyFrame
// matters for VP8 only and must match the frame's P bit. An empty frame
// appends nothing. dst must not overlap frame. It allocates only if dst is
// too small.
func (s *SenderKey) EncryptFrame(dst []byte, codec Codec, keyFrame bool, iv [IVLen]byte, keyIndex byte, frame []byte) ([]byte, error) {
	if keyIndex == InjectedKeyIndex {
		return dst, ErrInvalidKeyIndex
	}
	switch codec {
	case CodecVP8, CodecOpus:
	case CodecH264:
		if len(frame) == 0 {
			return dst, nil
		}
		return s.encryptH264(dst, &iv, keyIndex, frame), nil
	default:
		return dst, ErrUnknownCodec
	}
	if len(frame) == 0 {
		return dst, nil
	}
	n := clearLen(codec, keyFrame, len(frame))
	start := len(dst)
	total := len(frame) + Overhead
	dst = slices.Grow(dst, total)[:start+total]
	out := dst[start:]
	copy(out, frame[:n])
	ivAt := len(frame) + TagLen
	writeTrailer(out[ivAt:], &iv, keyIndex)
	s.aead.Seal(out[n:n], out[ivAt:ivAt+IVLen], frame[n:], out[:n])
	return dst, nil
}

func writeTrailer(t []byte, iv *[IVLen]byte, keyIndex byte) {
	copy(t, iv[:])
	t[IVLen] = IVLen
	t[IVLen+1] = keyIndex
}

// encryptH264 writes the canonical clear part, seals the rest into the tail
// of dst's spare room, then escapes it forward into place, so the frame is
// built in one buffer.
func (s *SenderKey) encryptH264(dst []byte, iv *[IVLen]byte, keyIndex byte, frame []byte) []byte {
	start := len(dst)
	dst, rest := appendH264Clear(dst, frame)
	c := len(dst) - start
	raw := len(frame) - rest + Overhead
	slack := raw/2 + 2 // escaping adds at most one byte per two input bytes, plus the end pad
	base := len(dst)
	dst = slices.Grow(dst, raw+slack)[:base+raw+slack]
	region := dst[base:]
	sealed := region[slack:]
	ivAt := raw - TrailerLen
	writeTrailer(sealed[ivAt:], iv, keyIndex)
	s.aead.Seal(sealed[:0], sealed[ivAt:ivAt+IVLen], frame[rest:], dst[start:start+c])
	n := escapeForward(region, slack, raw, trailingZeros(dst[start:start+c]))
	return dst[:base+n]
}

// DecryptFrame appends the decrypted frame to dst. Any error means the frame
// must be dropped, never decoded; dst is then returned unextended. For H.264
// the clear part comes back with 4-byte start codes. dst must not overlap
// frame. It does not refuse replays: receivers use DecryptFresh.
func (s *SenderKey) DecryptFrame(dst []byte, codec Codec, frame []byte) ([]byte, error) {
	return s.DecryptFresh(dst, codec, frame, nil)
}

// DecryptFresh is DecryptFrame that also refuses, with ErrReplayedFrame, an
// authentic frame whose IV w has seen (docs/e2ee.md §4.1). w is only told
// about authentic frames, so forgeries cannot move it; w may be nil.
func (s *SenderKey) DecryptFresh(dst []byte, codec Codec, frame []byte, w *ReplayWindow) ([]byte, error) {
	if codec != CodecVP8 && codec != CodecOpus && codec != CodecH264 {
		return dst, ErrUnknownCodec
	}
	if len(frame) == 0 {
		return dst, nil
	}
	start := len(dst)
	var clear, prot []byte
	switch {
	case codec == CodecH264:
		var rest int
		dst, rest = appendH264Clear(dst, frame)
		c := len(dst) - start
		dst = slices.Grow(dst, len(frame)-rest)
		dst = unescapeAppend(dst, frame[rest:], trailingZeros(dst[start:]))
		clear, prot = dst[start:start+c], dst[start+c:]
	case frame[len(frame)-1] == InjectedKeyIndex:
		return dst, ErrInjectedFrame
	default:
		if len(frame) < Overhead {
			return dst, ErrMalformedFrame
		}
		n := clearLen(codec, codec == CodecVP8 && frame[0]&1 == 0, len(frame)-Overhead)
		// Room for the whole plaintext now, so open's result shares dst.
		dst = append(slices.Grow(dst, len(frame)-Overhead), frame[:n]...)
		clear, prot = dst[start:], frame[n:]
	}
	out, err := s.open(dst[:start+len(clear)], clear, prot, w)
	if err != nil {
		return dst[:start], err
	}
	return out, nil
}

// open checks the trailer of prot and appends the plaintext to dst, which
// ends with clear.
func (s *SenderKey) open(dst []byte, clear, prot []byte, w *ReplayWindow) ([]byte, error) {
	if len(prot) < 2 {
		return nil, ErrMalformedFrame
	}
	keyIndex, ivLen := prot[len(prot)-1], prot[len(prot)-2]
	if keyIndex == InjectedKeyIndex {
		return nil, ErrInjectedFrame
	}
	if ivLen != IVLen || len(prot) < Overhead {
		return nil, ErrMalformedFrame
	}
	if keyIndex != s.index {
		return nil, ErrUnknownKeyIndex
	}
	ivAt := len(prot) - TrailerLen
	// dst has room for the plaintext (DecryptFrame grew it), so out shares
	// its array. For H.264 prot already lives in dst right after clear, and
	// Open may decrypt in place when output and ciphertext start at one byte.
	out, err := s.aead.Open(dst[len(dst):len(dst)], prot[ivAt:ivAt+IVLen], prot[:ivAt], clear)
	if err != nil {
		return nil, ErrFrameAuth
	}
	if w != nil && !w.Fresh([IVLen]byte(prot[ivAt:ivAt+IVLen])) {
		return nil, ErrReplayedFrame
	}
	return dst[:len(dst)+len(out)], nil
}
