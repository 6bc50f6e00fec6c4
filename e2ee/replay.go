package e2ee

import "encoding/binary"

// Replay window sizes; docs/e2ee.md §4.1.
const (
	// ReplayWindowSize is how far below the highest counter seen under an
	// IV prefix a frame may arrive (reordering) and still be accepted once.
	ReplayWindowSize = 128
	// MaxPrefixes is how many IV prefixes (tracks) one frame key accepts;
	// further prefixes are refused rather than old ones forgotten, since a
	// forgotten prefix could be replayed.
	MaxPrefixes = 64
)

// ReplayWindow remembers which IVs of one frame key were accepted: per IV
// prefix, the highest counter and which of the ReplayWindowSize counters
// below it were seen. The zero value is ready. Not safe for concurrent use:
// one per receiving key.
type ReplayWindow struct {
	prefixes map[uint64]*prefixWindow
}

type prefixWindow struct {
	top  uint32
	ring [ReplayWindowSize]int64 // counter stored at counter % size, -1 empty
}

// Fresh records iv and reports whether it was new.
func (w *ReplayWindow) Fresh(iv [IVLen]byte) bool {
	prefix := binary.BigEndian.Uint64(iv[:8])
	c := binary.BigEndian.Uint32(iv[8:])
	if w.prefixes == nil {
		w.prefixes = make(map[uint64]*prefixWindow)
	}
	p := w.prefixes[prefix]
	switch {
	case p == nil:
		if len(w.prefixes) >= MaxPrefixes {
			return false
		}
		p = &prefixWindow{top: c}
		for i := range p.ring {
			p.ring[i] = -1
		}
		w.prefixes[prefix] = p
	case c <= p.top:
		if p.top-c >= ReplayWindowSize || p.ring[c%ReplayWindowSize] == int64(c) {
			return false
		}
	default:
		p.top = c
	}
	p.ring[c%ReplayWindowSize] = int64(c)
	return true
}
