// Package rtpmunger turns wrapping 16-bit sequence numbers and 32-bit
// timestamps into 64-bit extended values, and rewrites them so that a
// subscriber sees one continuous stream although the SFU starts it at a key
// frame, drops packets and switches between simulcast layers.
//
// Extended values never wrap, so comparisons inside the SFU are plain
// integer comparisons; only the low bits go on the wire.
package rtpmunger

// Unwrapper extends a wrapping counter of Bits bits (16 for sequence
// numbers, 32 for timestamps) to 64 bits, accepting reordering of up to half
// the counter's range. The zero value is ready to use.
type Unwrapper struct {
	bits    uint
	started bool
	last    uint64 // highest extended value seen
}

// NewSeqUnwrapper returns an Unwrapper for RTP sequence numbers.
func NewSeqUnwrapper() Unwrapper { return Unwrapper{bits: 16} }

// NewTSUnwrapper returns an Unwrapper for RTP timestamps.
func NewTSUnwrapper() Unwrapper { return Unwrapper{bits: 32} }

// Unwrap returns the extended value of v. The first value is placed one full
// cycle above zero, so a packet reordered from just before it still has a
// positive extended value.
func (u *Unwrapper) Unwrap(v uint32) uint64 {
	if u.bits == 0 {
		u.bits = 16
	}
	cycle := uint64(1) << u.bits
	if !u.started {
		u.started = true
		u.last = cycle + uint64(v)
		return u.last
	}
	mask := cycle - 1
	lastLow := u.last & mask
	delta := (uint64(v) - lastLow) & mask // forward distance, modulo the cycle
	if delta < cycle/2 {
		u.last += delta
		return u.last
	}
	// Backwards: an older, reordered value.
	return u.last - (cycle - delta)
}

// Last returns the highest extended value seen.
func (u *Unwrapper) Last() uint64 { return u.last }
