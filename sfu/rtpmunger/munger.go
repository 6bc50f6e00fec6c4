package rtpmunger

// Munger rewrites extended sequence numbers and timestamps of one source
// stream into the continuous numbering of one outgoing stream. Offsets are
// kept modulo 2^64: only their low bits reach the wire, and the source
// may change (a simulcast switch) without the output jumping.
//
// A Munger is not safe for concurrent use.
type Munger struct {
	started   bool
	seqOffset uint64 // in - out
	tsOffset  uint64
	firstIn   uint64 // first source sequence number of the current source
	lastOut   uint64 // highest outgoing extended sequence number sent
	lastOutTS uint64
	lastIn    uint64 // highest source sequence number forwarded
}

// Started reports whether a source has been set.
func (m *Munger) Started() bool { return m.started }

// SetSource makes the packet (inSeq, inTS) the start of a new source. The
// first call starts the outgoing stream at outSeq/outTS (random values, as
// RFC 3550 asks); later calls continue one sequence number after the last
// packet sent and tsGap timestamp units after its timestamp.
func (m *Munger) SetSource(inSeq, inTS uint64, outSeq uint16, outTS uint32, tsGap uint32) {
	if !m.started {
		m.started = true
		m.lastOut = uint64(1)<<16 + uint64(outSeq) - 1
		m.lastOutTS = uint64(1)<<32 + uint64(outTS) - uint64(tsGap)
	}
	m.seqOffset = inSeq - (m.lastOut + 1)
	m.tsOffset = inTS - (m.lastOutTS + uint64(tsGap))
	m.firstIn = inSeq
	m.lastIn = inSeq - 1
}

// Rewrite returns the outgoing sequence number and timestamp of the source
// packet (inSeq, inTS). ok is false for a packet from before the current
// source started, which must not be sent.
func (m *Munger) Rewrite(inSeq, inTS uint64) (seq uint16, ts uint32, ok bool) {
	if !m.started || inSeq < m.firstIn {
		return 0, 0, false
	}
	out := inSeq - m.seqOffset
	outTS := inTS - m.tsOffset
	if inSeq > m.lastIn {
		m.lastIn = inSeq
		m.lastOut = out
		m.lastOutTS = outTS
	}
	return uint16(out), uint32(outTS), true
}

// Out returns the outgoing extended sequence number the source packet
// inSeq is given now (by Rewrite, after Rewrite). It is unique for the
// packets sent only as long as the numbering does not move (SetSource,
// Pad and Drop move it): a packet older than those maps onto a number
// that may have gone out already.
func (m *Munger) Out(inSeq uint64) uint64 { return inSeq - m.seqOffset }

// Pad numbers a packet the SFU sends of its own accord after the last one
// forwarded (bandwidth probing padding): the next sequence number, with the
// last timestamp. Later source packets move up by one, so the subscriber
// sees no gap. ok is false before the first packet.
func (m *Munger) Pad() (seq uint16, ts uint32, ok bool) {
	if !m.started {
		return 0, 0, false
	}
	m.seqOffset--
	m.lastOut++
	return uint16(m.lastOut), uint32(m.lastOutTS), true
}

// Drop removes the newest source packet inSeq from the outgoing numbering,
// so the subscriber sees no gap for a packet the SFU chose not to send. Only
// the newest packet can be dropped this way; an older one is left as a gap
// (the subscriber's NACK for it then goes unanswered).
func (m *Munger) Drop(inSeq uint64) {
	if !m.started || inSeq <= m.lastIn {
		return
	}
	m.seqOffset += inSeq - m.lastIn
	m.lastIn = inSeq
}

// LastOut returns the last outgoing extended sequence number and timestamp.
func (m *Munger) LastOut() (seq, ts uint64) { return m.lastOut, m.lastOutTS }

// LastIn returns the newest source sequence number and timestamp forwarded.
func (m *Munger) LastIn() (seq uint64, ok bool) { return m.lastIn, m.started }
