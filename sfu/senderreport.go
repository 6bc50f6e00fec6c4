package sfu

import (
	"time"

	"github.com/pion/rtcp"
)

// srInterval is how often a subscriber gets a sender report for each
// track it receives; browsers need them to keep audio and video in sync.
const srInterval = time.Second

// srPerCompound bounds the reports sent in one RTCP compound packet.
const srPerCompound = 16

// senderReports sends, every srInterval until p leaves, an RTCP sender
// report for each of its DownTracks that has sent media. The SFU makes
// them itself: Pion's sender-report interceptor would not see the packets
// the fast path seals (egress.go).
func (p *Participant) senderReports() {
	t := time.NewTicker(srInterval)
	defer t.Stop()
	var (
		downs []*DownTrack
		pkts  []rtcp.Packet
	)
	for {
		select {
		case <-p.done:
			return
		case <-t.C:
		}
		downs = downs[:0]
		p.subMu.Lock()
		for _, d := range p.downs {
			downs = append(downs, d)
		}
		p.subMu.Unlock()
		now := time.Now()
		pkts = pkts[:0]
		for _, d := range downs {
			if sr, ok := d.senderReport(now); ok {
				pkts = append(pkts, sr)
			}
			if len(pkts) == srPerCompound {
				p.writeSubRTCP(pkts)
				pkts = pkts[:0]
			}
		}
		if len(pkts) > 0 {
			p.writeSubRTCP(pkts)
		}
	}
}

func (p *Participant) writeSubRTCP(pkts []rtcp.Packet) {
	if err := p.sub.WriteRTCP(pkts); err != nil {
		p.log.Debug("send sender reports", "err", err)
	}
}

// senderReport describes what d has sent: the RTP time of now on the
// subscriber's timeline (the last timestamp sent, moved on by the wall
// clock) and the packet and payload byte counts.
func (d *DownTrack) senderReport(now time.Time) (*rtcp.SenderReport, bool) {
	w := d.writer.Load()
	if w == nil {
		return nil, false
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.stats.packets == 0 {
		return nil, false
	}
	elapsed := max(now.UnixNano()-d.lastSent, 0)
	return &rtcp.SenderReport{
		SSRC:        w.ssrc,
		NTPTime:     ntpTime(now),
		RTPTime:     d.lastTS + uint32(elapsed*int64(d.clockRate())/1e9),
		PacketCount: uint32(d.stats.packets),
		OctetCount:  uint32(d.stats.bytes),
	}, true
}

// ntpTime is t as a 64-bit NTP timestamp (seconds since 1900, 32.32).
func ntpTime(t time.Time) uint64 {
	const unixToNTP = 2208988800
	ns := uint64(t.UnixNano())
	secs := ns/1e9 + unixToNTP
	frac := (ns % 1e9) << 32 / 1e9
	return secs<<32 | frac
}
