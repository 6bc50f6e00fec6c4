package sfu

import (
	"math"
	"time"

	"github.com/pion/rtcp"
	"github.com/pion/webrtc/v4"
)

// What a DownTrack learns of the subscriber's link from its receiver
// reports: whether media still arrives (liveness.go), the loss, round trip
// and jitter that size the repair budget (sfu/rtxbudget), and whether the
// loss is that of a full link, which lowers the layer rather than adding
// retransmissions to it.

// lossCapHold is how long a layer ceiling set by loss lasts after the last
// lossy report, so the layer does not climb back into the loss at once.
const lossCapHold = 10 * time.Second

// provenHalfLife is how fast what a calm link carried fades as a limit.
const provenHalfLife = 10 * time.Second

// sendRateWeight is the weight of the newest tick in the smoothed rate.
const sendRateWeight = 0.3

// stalled reports whether the subscriber's silence stops this packet; a
// stalled video track resumes only at a key frame. d.mu held.
func (d *DownTrack) stalled() bool {
	if d.live == nil {
		return false
	}
	st := d.live.stall.Load()
	if st == stallNone || (st == stallVideo && d.up.kind != webrtc.RTPCodecTypeVideo) {
		return false
	}
	if d.up.kind == webrtc.RTPCodecTypeVideo {
		d.congested = true
	}
	return true
}

// layerEstimate is the rate the layer choice fits: the subscriber's
// estimate, lowered to the goodput while the link loses. d.mu held.
func (d *DownTrack) layerEstimate() uint64 {
	est := d.budget.Rate()
	if d.lossCap > 0 && (est == 0 || d.lossCap < est) {
		return d.lossCap
	}
	return est
}

// tick runs every liveness tick: it measures the rate sent (media, and
// media and padding: what the link carried), sizes the repair budget from
// the larger of the limit and what flows, lets a loss ceiling lapse, and
// chooses the layer again as the limit moves.
func (d *DownTrack) tick(now time.Time, dt time.Duration) {
	if dt <= 0 {
		return
	}
	d.mu.Lock()
	bytes := d.stats.bytes - min(d.bytesSeen, d.stats.bytes) // stats restart when retired
	d.bytesSeen = d.stats.bytes
	packets := float64(bytes) / 1000 // roughly, for the header overhead
	inst := (float64(bytes) + packets*rtpHeaderOverhead) * 8 / dt.Seconds()
	d.sendBps += sendRateWeight * (inst - d.sendBps)
	pads := d.stats.padding - min(d.padSeen, d.stats.padding)
	d.padSeen = d.stats.padding
	inst += float64(pads) * (padSize + rtpHeaderOverhead) * 8 / dt.Seconds()
	d.carried += sendRateWeight * (inst - d.carried)
	// Repair is a share of what the link carries: the estimate, or what
	// flows when more (a receiver-side estimate falls under jitter, to
	// 14 kbit/s at 100 ± 20 ms, and left no budget to repair 5 % loss).
	d.repair.SetRate(max(d.budget.Rate(), uint64(d.sendBps)), now)
	lapsed := d.lossCap > 0 && now.UnixNano() > d.lossCapUntil
	if lapsed {
		d.lossCap = 0
	}
	// What the link carried is trusted while it stays calm and the
	// subscriber answers, fading with a half-life of provenHalfLife: a
	// path that changed (an ICE restart, a cut) must prove itself again.
	if d.calm(now.UnixNano()) && (d.live == nil || d.live.stall.Load() == stallNone) {
		d.proven = max(d.proven*math.Exp2(-dt.Seconds()/provenHalfLife.Seconds()), d.carried)
	} else {
		d.proven = 0
	}
	changed := false
	if d.remb > 0 || lapsed {
		d.budget.SetRate(d.limit(now.UnixNano()))
		changed = d.retarget()
	}
	d.mu.Unlock()
	d.layersChanged(changed)
}

// onReceiverReport reads the report block about this track, if any.
func (d *DownTrack) onReceiverReport(rr *rtcp.ReceiverReport) {
	w := d.writer.Load()
	if w == nil {
		return
	}
	for i := range rr.Reports {
		if rr.Reports[i].SSRC == w.ssrc {
			r := rr.Reports[i]
			media := r.FractionLost
			if w.rtxSSRC != 0 {
				r.FractionLost = d.withRTXLoss(&r, rr.Reports, w.rtxSSRC)
			}
			at, changed := d.report(&r, media, time.Now())
			if at != 0 && d.live != nil {
				d.live.heard(at)
			}
			d.layersChanged(changed)
			return
		}
	}
}

// withRTXLoss is the loss of the media and the RTX stream together, each
// report block's fraction weighted by the packets it covers: probes and
// retransmissions go on the RTX stream, and a probe that overfills the
// link loses there first. Without an RTX block, the media block's.
func (d *DownTrack) withRTXLoss(media *rtcp.ReceptionReport, all []rtcp.ReceptionReport, rtxSSRC uint32) uint8 {
	for _, r := range all {
		if r.SSRC != rtxSSRC {
			continue
		}
		d.mu.Lock()
		nm := media.LastSequenceNumber - d.rrHighest[0]
		nr := r.LastSequenceNumber - d.rrHighest[1]
		first := d.rrHighest == [2]uint32{}
		d.rrHighest = [2]uint32{media.LastSequenceNumber, r.LastSequenceNumber}
		d.mu.Unlock()
		if first || nm > 1<<15 || nr > 1<<15 || nm+nr == 0 {
			return max(media.FractionLost, r.FractionLost)
		}
		return uint8((uint32(media.FractionLost)*nm + uint32(r.FractionLost)*nr) / (nm + nr))
	}
	return media.FractionLost
}

// report applies one report block, whose fraction lost covers the media
// and the RTX stream together (withRTXLoss); mediaLost is the media's
// alone. It returns when the subscriber was
// last known to receive: the send time of the highest packet the report
// counts when that moved on, now when it has everything sent, or 0 when
// the report is stale (the same highest packet again, with more sent
// since) or that packet is out of the history (far behind).
func (d *DownTrack) report(r *rtcp.ReceptionReport, mediaLost uint8, now time.Time) (receivedAt int64, changed bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	hs := uint16(r.LastSequenceNumber)
	switch h := &d.history[hs%seqHistory]; {
	case !d.sentAny || hs == d.lastSeq:
		receivedAt = now.UnixNano()
	case d.rrValid && hs != d.rrSeq && hs-d.rrSeq < 1<<15 && h.seq == hs && h.at != 0:
		receivedAt = h.at // padding has a time too, though no packet to resend
	case r.LastSenderReport != 0 && r.LastSenderReport != d.srEcho:
		// It echoes a sender report it had not echoed before: the
		// downstream carries our packets again, though no media moved
		// its highest sequence number (video paused for its silence
		// sends none, and repairs go on the RTX stream). Without this,
		// video came back only with audio's next report, 5-8 s after a
		// cut.
		if at, ok := srSentAt(r.LastSenderReport, now); ok {
			receivedAt = at
		}
	}
	d.rrSeq, d.rrValid = hs, true
	if r.LastSenderReport != 0 {
		d.srEcho = r.LastSenderReport
	}
	loss := float64(r.FractionLost) / 256
	d.repair.SetLoss(loss, float64(mediaLost)/256, now)
	if rtt, ok := roundTrip(r, now); ok {
		jitter := time.Duration(float64(r.Jitter) / float64(d.clockRate()) * float64(time.Second))
		d.repair.SetPath(rtt, jitter)
	}
	if d.repair.Congested() && !d.repair.MediaCongested() && d.padRate > 0 {
		// The loss is the probe's padding (and repairs): the probe
		// overfilled the link, not the layer. It stops as after a fall
		// of the estimate (probeSettle); capping the layer for
		// lossCapHold instead kept the next probe 10 s away, and the
		// way back to 640x360 after a 500 kbit/s dip took 16 s.
		d.estFell, d.proven = now.UnixNano(), 0
		changed = d.retarget()
	} else if d.repair.Congested() && d.up.kind == webrtc.RTPCodecTypeVideo && d.current >= 0 {
		// The goodput of the layer flowing, not of what was sent: frames
		// the SFU dropped lower what it sends, and a cap from that fell
		// report after report.
		rates := d.up.layerRates(now.UnixNano())
		goodput := uint64(float64(rates[d.current]) * (1 - loss))
		if d.lossCap == 0 || goodput < d.lossCap {
			d.lossCap = goodput
		}
		d.lossCapUntil = now.Add(lossCapHold).UnixNano()
		changed = d.retarget()
	}
	return receivedAt, changed
}

// roundTrip is the round trip from a report's echo of our sender report
// (RFC 3550 6.4.1): now - LSR - DLSR, all in 1/65536 s.
func roundTrip(r *rtcp.ReceptionReport, now time.Time) (time.Duration, bool) {
	if r.LastSenderReport == 0 {
		return 0, false
	}
	d := ntpMiddle(now) - r.LastSenderReport - r.Delay
	rtt := time.Duration(uint64(d) * uint64(time.Second) >> 16)
	if rtt > 10*time.Second {
		return 0, false // our clock and the echo disagree: wrapped
	}
	return rtt, true
}

// srSentAt is when the SFU sent the sender report a receiver report
// echoes (its LSR), in unix nanoseconds; false if that is not within the
// last 10 s.
func srSentAt(lsr uint32, now time.Time) (int64, bool) {
	ago := time.Duration(uint64(ntpMiddle(now)-lsr) * uint64(time.Second) >> 16)
	if ago > 10*time.Second {
		return 0, false
	}
	return now.Add(-ago).UnixNano(), true
}

// ntpMiddle is the middle 32 bits of the NTP time of t: 16 bits of
// seconds, 16 of fraction.
func ntpMiddle(t time.Time) uint32 {
	const unixToNTP = 2208988800
	secs := uint64(t.Unix()) + unixToNTP
	frac := uint64(t.Nanosecond()) << 16 / 1e9
	return uint32(secs<<16 | frac)
}
