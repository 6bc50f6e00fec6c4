package e2ee

import (
	"crypto/rand"
	"encoding/binary"
)

// IVSequence makes the IVs of one track: 8 random bytes drawn when the
// sequence starts, then a 32-bit big-endian frame counter. When the counter
// would wrap, a new random prefix is drawn. Under one sender key, two tracks
// (audio, camera, screen, a re-publish, or a second session a malicious
// server gave the same participant id) share an IV only if their 64-bit
// random prefixes collide; docs/e2ee.md §4 bounds that probability. Not safe
// for concurrent use: one sequence per track.
type IVSequence struct {
	iv [IVLen]byte
}

// NewIVSequence starts a sequence with a fresh random prefix.
func NewIVSequence() *IVSequence {
	s := &IVSequence{}
	s.reseed()
	return s
}

func (s *IVSequence) reseed() {
	rand.Read(s.iv[:8]) // never fails since Go 1.24; it crashes the program instead
	binary.BigEndian.PutUint32(s.iv[8:], 0)
}

// Next returns the next IV.
func (s *IVSequence) Next() [IVLen]byte {
	out := s.iv
	c := binary.BigEndian.Uint32(s.iv[8:])
	if c == ^uint32(0) {
		s.reseed()
	} else {
		binary.BigEndian.PutUint32(s.iv[8:], c+1)
	}
	return out
}
