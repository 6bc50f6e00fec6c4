package sfu

import (
	"encoding/binary"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/interceptor/pkg/twcc"
	"github.com/pion/rtcp"
)

// twccInterval is how often a publisher is told when its packets arrived.
const twccInterval = 100 * time.Millisecond

// arrivalFeedback tells a publisher's browser when each of its packets
// arrived (transport-wide congestion control feedback), so its send-side
// estimator ramps up, probes and backs off as the uplink allows. Without it
// a browser's estimate stays near its start value and it never starts the
// top simulcast layer.
//
// The readers of all the publisher's streams record here; the one that
// finds feedback due builds and sends it. Recording allocates nothing.
type arrivalFeedback struct {
	send func([]rtcp.Packet)
	// extID is the transport-wide sequence number extension's id, set
	// when the connection is negotiated; sockAt is when the media socket's
	// reader (arrivalTable) last timed one of this publisher's packets:
	// while it does, the track readers do not record.
	extID  atomic.Uint32
	sockAt atomic.Int64

	// addrs are the remote addresses the arrival table sends here, oldest
	// first; the table's lock guards them.
	addrs []netip.AddrPort

	mu    sync.Mutex
	rec   *twcc.Recorder
	start int64 // unix nanoseconds; arrival times are microseconds since
	next  int64 // when the next feedback is due
}

func newArrivalFeedback(senderSSRC uint32, send func([]rtcp.Packet)) *arrivalFeedback {
	return &arrivalFeedback{send: send, rec: twcc.NewRecorder(senderSSRC)}
}

// observe records an RTP packet b seen at the media socket at now.
func (f *arrivalFeedback) observe(b []byte, now int64) {
	if f.note(b, now) {
		f.sockAt.Store(now)
	}
}

// socketLapse is how long after the media socket's reader last timed a
// packet of this publisher the track readers take over: the connection
// may have moved to ICE-TCP or to an address not learnt (yet).
const socketLapse = int64(time.Second)

// record notes, for a track reader, the arrival of the RTP packet b at
// now, unless the media socket's reader does.
func (f *arrivalFeedback) record(b []byte, now int64) {
	if now-f.sockAt.Load() < socketLapse {
		return
	}
	f.note(b, now)
}

// note adds the packet b if it carries a transport-wide sequence number,
// and reports whether it did.
func (f *arrivalFeedback) note(b []byte, now int64) bool {
	ext := transportSeqExt(b, uint8(f.extID.Load()))
	if ext == nil {
		return false
	}
	f.add(binary.BigEndian.Uint32(b[8:12]), ext, now)
	return true
}

// add notes the arrival at now of a packet of ssrc carrying the
// transport-wide sequence number extension ext, and sends feedback when due.
func (f *arrivalFeedback) add(ssrc uint32, ext []byte, now int64) {
	if len(ext) < 2 {
		return
	}
	seq := binary.BigEndian.Uint16(ext)
	f.mu.Lock()
	if f.start == 0 {
		f.start, f.next = now, now+int64(twccInterval)
	}
	f.rec.Record(ssrc, seq, (now-f.start)/1e3)
	var pkts []rtcp.Packet
	if now >= f.next {
		f.next = now + int64(twccInterval)
		pkts = f.rec.BuildFeedbackPacket()
	}
	f.mu.Unlock()
	if len(pkts) > 0 {
		f.send(pkts)
	}
}
