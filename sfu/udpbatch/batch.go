package udpbatch

import (
	"net/netip"
)

// SlotSize is the largest datagram a Batch slot holds: an SRTP packet
// that fits a 1500-byte Ethernet frame.
const SlotSize = 1500

// Limits of one GSO send (UDP_SEGMENT): the kernel takes at most 64
// segments, and the datagram before segmentation must fit an IP packet.
const (
	maxSegments = 64
	maxGSOBytes = 65000
)

// Batch is the datagrams one goroutine has ready for a Socket. The writer
// fills slots in place (Slot, then Commit) and Flush sends them with as
// few system calls as the kernel allows: consecutive datagrams to one
// destination whose sizes allow it become one UDP GSO send, and all of
// them go in one sendmmsg.
//
// A Batch is not safe for concurrent use; each writer goroutine owns one.
type Batch struct {
	s     *Socket
	buf   []byte // len(lens) slots of SlotSize
	lens  []int
	dsts  []netip.AddrPort
	n     int // committed slots
	plan  []group
	sys   sendState // the platform's system call buffers
	stats *counters
}

// group is one message of a send: count slots from start to one
// destination, cut by the kernel into segments of seg bytes when count > 1.
type group struct {
	start, count, seg int
}

// NewBatch returns a batch of the given number of slots (DefaultSize when
// not positive) for s.
func (s *Socket) NewBatch(slots int) *Batch {
	if slots <= 0 {
		slots = DefaultSize
	}
	b := &Batch{
		s:     s,
		buf:   make([]byte, slots*SlotSize),
		lens:  make([]int, slots),
		dsts:  make([]netip.AddrPort, slots),
		plan:  make([]group, 0, slots),
		stats: &s.stats,
	}
	b.sys.init(slots)
	return b
}

// Slot returns the buffer for the next datagram to dst, sending what the
// batch holds first when it is full. The datagram counts only once
// Commit is called.
func (b *Batch) Slot(dst netip.AddrPort) []byte {
	if b.n == len(b.lens) {
		b.Flush()
	}
	b.dsts[b.n] = dst
	return b.buf[b.n*SlotSize : (b.n+1)*SlotSize : (b.n+1)*SlotSize]
}

// Commit adds the first n bytes of the slot Slot returned last.
func (b *Batch) Commit(n int) {
	if n <= 0 || n > SlotSize {
		return
	}
	b.lens[b.n] = n
	b.n++
}

// Len returns the number of datagrams waiting.
func (b *Batch) Len() int { return b.n }

// Flush sends every waiting datagram. A datagram the kernel refuses is
// counted and skipped so that the others still go.
func (b *Batch) Flush() {
	if b.n == 0 {
		return
	}
	b.plan = planGroups(b.plan[:0], b.lens[:b.n], b.dsts[:b.n], b.s.gsoOn())
	b.send()
	b.n = 0
}

// planGroups cuts the datagrams into send messages. A run of datagrams to
// one destination becomes one GSO message when all but the last have the
// same size and the last is not larger (what UDP_SEGMENT requires),
// within the kernel's segment and byte limits.
func planGroups(out []group, lens []int, dsts []netip.AddrPort, gso bool) []group {
	for i := 0; i < len(lens); {
		g := group{start: i, count: 1, seg: lens[i]}
		total := lens[i]
		for gso && i+g.count < len(lens) && g.count < maxSegments {
			j := i + g.count
			if dsts[j] != dsts[i] || lens[j] > g.seg || total+lens[j] > maxGSOBytes {
				break
			}
			g.count++
			total += lens[j]
			if lens[j] < g.seg {
				break // a shorter datagram ends the run
			}
		}
		out = append(out, g)
		i += g.count
	}
	return out
}
