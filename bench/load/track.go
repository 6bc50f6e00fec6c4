package load

import (
	"encoding/binary"
	"sync/atomic"
	"time"

	"github.com/monkeythorn/meet/bench"
	"github.com/monkeythorn/meet/e2ee"
)

// samplesPerTrack bounds the latency samples one received track keeps:
// 30 fps for 10 minutes, more than any documented run needs.
const samplesPerTrack = 30 * 600

// rtpInfo is what the receiver needs from an RTP header.
type rtpInfo struct {
	seq     uint16
	marker  bool
	payload []byte
}

// parseRTP reads an RTP packet without allocating: sequence number, marker
// and where the payload is (after CSRCs and header extensions, before
// padding).
func parseRTP(b []byte) (rtpInfo, bool) {
	if len(b) < 12 || b[0]>>6 != 2 {
		return rtpInfo{}, false
	}
	off := 12 + 4*int(b[0]&0x0f)
	if b[0]&0x10 != 0 {
		if len(b) < off+4 {
			return rtpInfo{}, false
		}
		off += 4 + 4*int(binary.BigEndian.Uint16(b[off+2:]))
	}
	end := len(b)
	if b[0]&0x20 != 0 && end > 0 {
		end -= int(b[end-1])
	}
	if off > end {
		return rtpInfo{}, false
	}
	return rtpInfo{seq: binary.BigEndian.Uint16(b[2:]), marker: b[1]&0x80 != 0, payload: b[off:end]}, true
}

// counters are what the run reads from a receiving track while it runs.
type counters struct {
	received  atomic.Int64
	expected  atomic.Int64 // highest extended sequence number - first + 1
	reordered atomic.Int64
	bytes     atomic.Int64
}

// recvTrack follows one received track: sequence numbers for loss and
// order, frame boundaries for latency. Only its reader goroutine calls
// packet.
type recvTrack struct {
	counters
	epoch     time.Time
	measuring *atomic.Bool
	key       *e2ee.SenderKey // nil without E2EE
	lat       *bench.Samples

	started bool
	first   uint64
	highest uint64 // extended
	inFrame bool
	sendNs  int64
	frame   []byte // E2EE: the frame being assembled
	plain   []byte
	badE2EE atomic.Int64
}

func newRecvTrack(epoch time.Time, measuring *atomic.Bool, key *e2ee.SenderKey) *recvTrack {
	return &recvTrack{epoch: epoch, measuring: measuring, key: key, lat: bench.NewSamples(samplesPerTrack)}
}

// extend turns a 16-bit sequence number into a 64-bit one next to the
// highest seen, so wrap-around and reordering are told apart.
func extend(highest uint64, seq uint16) uint64 {
	cand := highest&^0xffff | uint64(seq)
	switch d := int64(cand) - int64(highest); {
	case d > 1<<15:
		if cand >= 1<<16 {
			cand -= 1 << 16
		}
	case d < -(1 << 15):
		cand += 1 << 16
	}
	return cand
}

// packet accounts for one received RTP packet.
func (t *recvTrack) packet(b []byte, now time.Time) {
	p, ok := parseRTP(b)
	if !ok {
		return
	}
	t.received.Add(1)
	t.bytes.Add(int64(len(b)))
	var esn uint64
	contiguous := true
	if !t.started {
		t.started = true
		esn = 1<<20 | uint64(p.seq) // room below for reordered early packets
		t.first, t.highest = esn, esn
	} else {
		esn = extend(t.highest, p.seq)
		switch {
		case esn > t.highest:
			contiguous = esn == t.highest+1
			t.highest = esn
		default:
			t.reordered.Add(1)
			contiguous = false
			if esn < t.first {
				t.first = esn
			}
		}
	}
	t.expected.Store(int64(t.highest - t.first + 1))
	if !contiguous {
		t.inFrame = false // a frame with a hole is not timed
	}
	t.frameEdge(p, now)
}

// frameEdge follows frame boundaries: a frame starts at a packet with the
// VP8 start bit and ends at the marker bit; its latency is taken when the
// last packet arrives.
func (t *recvTrack) frameEdge(p rtpInfo, now time.Time) {
	start, first, ok := bench.VP8PayloadStart(p.payload)
	if !ok {
		t.inFrame = false
		return
	}
	data := p.payload[start:]
	if first {
		t.inFrame = true
		if t.key == nil {
			ns, _, err := bench.ParseStamp(data)
			t.sendNs, t.inFrame = ns, err == nil
		} else {
			t.frame = append(t.frame[:0], data...)
		}
	} else if t.inFrame && t.key != nil {
		t.frame = append(t.frame, data...)
	}
	if !p.marker || !t.inFrame {
		return
	}
	t.inFrame = false
	if t.key != nil {
		var err error
		if t.plain, err = t.key.DecryptFrame(t.plain[:0], e2ee.CodecVP8, t.frame); err != nil {
			t.badE2EE.Add(1)
			return
		}
		ns, _, err := bench.ParseStamp(t.plain)
		if err != nil {
			t.badE2EE.Add(1)
			return
		}
		t.sendNs = ns
	}
	if t.measuring.Load() {
		t.lat.Add(float64(now.Sub(t.epoch).Nanoseconds()-t.sendNs) / 1e6)
	}
}
