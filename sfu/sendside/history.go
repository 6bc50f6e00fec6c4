// Package sendside estimates a subscriber's downlink from transport-wide
// congestion control feedback (draft-holmer-rmcat-transport-wide-cc-
// extensions-01): the SFU numbers every packet it sends the subscriber on
// one transport-wide sequence, remembers when it sent each and how big it
// was (History), and the subscriber's browser reports when each arrived.
// The Estimator follows the queue on the path from those reports: a
// growing one-way delay (a trend line over groups of packets, as in
// Google Congestion Control, draft-ietf-rmcat-gcc-02) brings the estimate
// down to what arrived, heavy loss lowers it, and a calm path lets it grow
// towards what the path delivered.
//
// Recording is the forwarding hot path's: two atomic operations a packet,
// no lock, no allocation. Feedback is rare (every 50-100 ms) and is read
// under the Estimator's lock.
package sendside

import "sync/atomic"

// historySize is how many sent packets History remembers (32 KiB a
// subscriber): at 4,000 packets a second to one subscriber (five 2 Mbit/s
// videos and more), a second, ten feedback intervals.
const historySize = 4096

// History numbers a subscriber's packets and remembers each one's send
// time and size. Its methods are safe for concurrent use.
type History struct {
	next  atomic.Uint32 // the next sequence number, extended
	start int64         // unix nanoseconds; times are microseconds since
	sent  [historySize]atomic.Uint64
}

// NewHistory returns a History whose times count from now (unix
// nanoseconds).
func NewHistory(now int64) *History { return &History{start: now} }

// An entry packs a packet's sequence number (16 bits), its size (11 bits,
// capped) and its send time (37 bits of microseconds: 38 hours).
const (
	sizeBits = 11
	timeBits = 37
	maxSize  = 1<<sizeBits - 1
	timeMask = 1<<timeBits - 1
)

// Record numbers a packet of size bytes sent at now (unix nanoseconds) and
// returns its transport-wide sequence number.
func (h *History) Record(size int, now int64) uint16 {
	seq := uint16(h.next.Add(1) - 1)
	h.sent[int(seq)%historySize].Store(pack(seq, size, (now-h.start)/1e3))
	return seq
}

func pack(seq uint16, size int, us int64) uint64 {
	return uint64(seq)<<(sizeBits+timeBits) | uint64(min(max(size, 0), maxSize))<<timeBits | uint64(us)&timeMask
}

// lookup returns the send time (microseconds since start) and size of the
// packet numbered seq, false if it is no longer remembered.
func (h *History) lookup(seq uint16) (us int64, size int, ok bool) {
	v := h.sent[int(seq)%historySize].Load()
	if v == 0 || uint16(v>>(sizeBits+timeBits)) != seq {
		return 0, 0, false
	}
	return int64(v & timeMask), int(v >> timeBits & maxSize), true
}
