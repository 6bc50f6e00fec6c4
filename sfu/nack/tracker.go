// Package nack keeps track of which packets of an incoming RTP stream have
// not arrived, so the SFU can ask the publisher for them again (RFC 4585
// generic NACK) before its subscribers notice.
//
// It works on extended sequence numbers and fixed arrays: pushing a packet
// and listing the missing ones allocate nothing.
package nack

// Window is how many recent sequence numbers are tracked. Older losses are
// given up: at video rates that is more than a second, past which a key
// frame request serves better than a retransmission.
const Window = 512

// MaxTries is how often one lost packet is asked for.
const MaxTries = 3

// Tracker records the packets received on one stream. The zero value is
// ready to use; it is not safe for concurrent use.
type Tracker struct {
	started bool
	first   uint64 // nothing before it is missing: the stream began there
	highest uint64
	recv    [Window / 64]uint64
	tries   [Window]uint8
}

func (t *Tracker) bit(esn uint64) (word int, mask uint64) {
	i := esn % Window
	return int(i / 64), 1 << (i % 64)
}

// Push records the arrival of packet esn.
func (t *Tracker) Push(esn uint64) {
	switch {
	case !t.started:
		t.started = true
		t.first, t.highest = esn, esn
	case esn > t.highest:
		if esn-t.highest >= Window {
			// A jump past the window: start over from here.
			t.recv = [Window / 64]uint64{}
			t.tries = [Window]uint8{}
			t.first = esn
		} else {
			for s := t.highest + 1; s < esn; s++ {
				w, m := t.bit(s)
				t.recv[w] &^= m
				t.tries[s%Window] = 0
			}
		}
		t.highest = esn
	case t.highest-esn >= Window || esn < t.first:
		return // too old to matter
	}
	w, m := t.bit(esn)
	t.recv[w] |= m
}

// Missing appends to dst the 16-bit sequence numbers of packets that have
// not arrived, that are older than the newest packet, and that have been
// asked for fewer than MaxTries times; each listed packet counts one try.
func (t *Tracker) Missing(dst []uint16) []uint16 {
	if !t.started {
		return dst
	}
	lowest := t.first
	if t.highest >= Window && t.highest-Window+1 > lowest {
		lowest = t.highest - Window + 1
	}
	for s := lowest; s < t.highest; s++ {
		w, m := t.bit(s)
		if t.recv[w]&m != 0 {
			continue
		}
		i := s % Window
		if t.tries[i] >= MaxTries {
			continue
		}
		t.tries[i]++
		dst = append(dst, uint16(s))
	}
	return dst
}
