package sfu

import (
	"sync"
	"time"

	"github.com/monkeythorn/meet/sfu/packetcache"
	"github.com/pion/rtp"
)

// holdMax bounds how long the first packet of a video frame may wait for
// the rest of the frame. Publishers pace their packets (a browser sends a
// frame in bursts a few milliseconds apart), so a frame is forwarded in
// the bursts it arrives in, never more than holdMax late.
const holdMax = time.Millisecond

// frameSlots is the most packets held at once: a large key frame goes out
// in parts of this many.
const frameSlots = 16

// frameHold keeps the packets of the frame a layer is receiving until the
// frame is complete (marker bit), the next frame starts, the slots are
// full or holdMax has passed, then forwards them together: each
// subscriber's copies of the frame lie side by side in one send batch and
// leave in one UDP GSO send (sfu/udpbatch). Audio (hold false) is
// forwarded packet by packet.
type frameHold struct {
	hold  bool
	flush func([]*packet) // forwards; called with mu held

	mu    sync.Mutex // the reader and the hold timer
	n     int
	hdrs  [frameSlots]rtp.Header
	bufs  [frameSlots][]byte
	pkts  [frameSlots]packet
	ptrs  [frameSlots]*packet
	timer *time.Timer

	// The reader's slot for the packet it is reading; add swaps it in.
	spareBuf []byte
	spareHdr rtp.Header
}

func newFrameHold(hold bool, flush func([]*packet)) *frameHold {
	f := &frameHold{hold: hold, flush: flush, spareBuf: make([]byte, packetcache.MaxPacketSize)}
	for i := range f.bufs {
		f.bufs[i] = make([]byte, packetcache.MaxPacketSize)
		f.ptrs[i] = &f.pkts[i]
	}
	f.timer = time.AfterFunc(time.Hour, f.expire)
	f.timer.Stop()
	return f
}

// add takes p, read into spareBuf and parsed into spareHdr, into the
// held frame, forwarding what is due.
func (f *frameHold) add(p packet, marker bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.n > 0 && p.ets != f.pkts[0].ets {
		f.flushLocked()
	}
	i := f.n
	f.bufs[i], f.spareBuf = f.spareBuf, f.bufs[i]
	f.hdrs[i], f.spareHdr = f.spareHdr, f.hdrs[i]
	p.header = &f.hdrs[i] // the payload moved with its buffer
	f.pkts[i] = p
	f.n++
	switch {
	case !f.hold || marker || f.n == frameSlots:
		f.flushLocked()
	case f.n == 1:
		f.timer.Reset(holdMax)
	}
}

func (f *frameHold) flushLocked() {
	if f.n == 0 {
		return
	}
	if f.hold {
		f.timer.Stop()
	}
	f.flush(f.ptrs[:f.n])
	f.n = 0
}

// expire forwards a frame whose rest has not come within holdMax.
func (f *frameHold) expire() {
	f.mu.Lock()
	f.flushLocked()
	f.mu.Unlock()
}

// close forwards what is held and stops the timer; the reader is done.
func (f *frameHold) close() {
	f.mu.Lock()
	f.flushLocked()
	f.timer.Stop()
	f.mu.Unlock()
}
