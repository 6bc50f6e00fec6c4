// Package rtpstats keeps the reception statistics of one incoming RTP
// stream and turns them into RTCP receiver reports (RFC 3550 6.4.2), so
// the publisher's congestion control learns about loss, jitter and
// round-trip time without a per-packet interceptor.
package rtpstats

import (
	"sync"

	"github.com/pion/rtcp"
)

// Receiver accumulates the statistics of one stream. Update and Report run
// on the stream's reader goroutine; SenderReport may run on another.
type Receiver struct {
	clockRate int64

	started       bool
	base, highest uint64 // extended sequence numbers
	received      uint64
	expectedPrior uint64
	receivedPrior uint64
	transit       int64   // last relative transit time, in clock units
	jitter        float64 // in clock units

	mu       sync.Mutex
	lastSR   uint32 // middle 32 bits of the last sender report's NTP time
	lastSRAt int64  // when it arrived, unix nanoseconds
}

// NewReceiver returns a Receiver for a stream with the given RTP clock rate.
func NewReceiver(clockRate uint32) *Receiver {
	if clockRate == 0 {
		clockRate = 90000
	}
	return &Receiver{clockRate: int64(clockRate)}
}

// Update records packet esn with RTP timestamp ts arriving at now (unix
// nanoseconds).
func (r *Receiver) Update(esn uint64, ts uint32, now int64) {
	arrival := now * r.clockRate / 1e9
	transit := arrival - int64(ts)
	if !r.started {
		r.started = true
		r.base, r.highest = esn, esn
		r.transit = transit
		r.received = 1
		return
	}
	r.received++
	if esn > r.highest {
		r.highest = esn
	}
	d := transit - r.transit
	r.transit = transit
	if d < 0 {
		d = -d
	}
	r.jitter += (float64(d) - r.jitter) / 16
}

// SenderReport records a sender report's NTP time arriving at now.
func (r *Receiver) SenderReport(ntp uint64, now int64) {
	r.mu.Lock()
	r.lastSR = uint32(ntp >> 16)
	r.lastSRAt = now
	r.mu.Unlock()
}

// Report returns the reception report block for the stream ssrc at now
// (unix nanoseconds) and starts a new interval; ok is false before the first
// packet.
func (r *Receiver) Report(ssrc uint32, now int64) (rep rtcp.ReceptionReport, ok bool) {
	if !r.started {
		return rep, false
	}
	expected := r.highest - r.base + 1
	lost := int64(expected) - int64(r.received)
	expInterval := expected - r.expectedPrior
	recvInterval := r.received - r.receivedPrior
	r.expectedPrior, r.receivedPrior = expected, r.received
	var fraction uint8
	if lostInterval := int64(expInterval) - int64(recvInterval); expInterval > 0 && lostInterval > 0 {
		fraction = uint8(lostInterval * 256 / int64(expInterval))
	}
	// The cumulative loss is a 24-bit signed field.
	lost = max(min(lost, 0x7FFFFF), -0x800000)
	r.mu.Lock()
	lsr, at := r.lastSR, r.lastSRAt
	r.mu.Unlock()
	var dlsr uint32
	if at != 0 {
		dlsr = uint32((now - at) * 65536 / 1e9)
	}
	return rtcp.ReceptionReport{
		SSRC:               ssrc,
		FractionLost:       fraction,
		TotalLost:          uint32(lost) & 0xFFFFFF,
		LastSequenceNumber: uint32(r.highest - 1<<16), // the unwrapper starts at cycle one
		Jitter:             uint32(r.jitter),
		LastSenderReport:   lsr,
		Delay:              dlsr,
	}, true
}
