package sfu

import (
	"sync"

	"github.com/monkeythorn/meet/sfu/rtxbudget"

	"github.com/monkeythorn/meet/sfu/udpbatch"
)

// DropReason says why a packet was not forwarded to a subscriber.
type DropReason int

const (
	DropUnknown      DropReason = iota
	DropKeyframeWait            // video before the first key frame or a layer switch
	DropCongestion              // the subscriber's bandwidth estimate was exceeded
	DropPaused                  // the subscriber shows no tile for the track
	DropWriteError              // the send failed (connection closing, socket error)
	DropStalled                 // the subscriber gave no feedback for too long (liveness.go)
	DropMalformed               // a RED packet with no primary block for a subscriber without RED
	DropStale                   // an older packet whose outgoing number went out already, or too old to tell
	numDropReasons
)

func (r DropReason) String() string {
	switch r {
	case DropKeyframeWait:
		return "keyframe_wait"
	case DropCongestion:
		return "congestion"
	case DropPaused:
		return "paused"
	case DropWriteError:
		return "write_error"
	case DropStalled:
		return "stalled"
	case DropMalformed:
		return "malformed"
	case DropStale:
		return "stale"
	}
	return "unknown"
}

// EstimateSource says where a subscriber's bandwidth estimate came from.
type EstimateSource int

const (
	EstimateTransportCC EstimateSource = iota // the SFU's own, from transport-wide feedback (sfu/sendside)
	EstimateREMB                              // the subscriber's browser's (REMB)
	numEstimateSources
)

func (s EstimateSource) String() string {
	if s == EstimateREMB {
		return "remb"
	}
	return "transport_cc"
}

// ReceiveDropReason says why a received packet was dropped before any
// subscriber got it (sfu/rxqueue).
type ReceiveDropReason int

const (
	ReceiveLate ReceiveDropReason = iota // waited longer than maxQueueDelay: the server could not keep up
	ReceiveFull                          // pushed out of a full receive queue by a newer packet
	numReceiveDropReasons
)

func (r ReceiveDropReason) String() string {
	if r == ReceiveFull {
		return "full"
	}
	return "late"
}

// Stats are the SFU's counters since it started. They carry no identity:
// no room code, participant id or address.
type Stats struct {
	Rooms, Participants, Tracks int

	PacketsForwarded, BytesForwarded uint64
	Drops                            [numDropReasons]uint64 // indexed by DropReason
	NACKsReceived                    uint64                 // sequence numbers subscribers asked for
	Retransmits                      uint64                 // answered from the cache
	RetransmitBytes                  uint64                 // their payload bytes
	// RetransmitsSkipped are NACKed packets not resent, indexed by
	// rtxbudget.Verdict: TooOld (past the jitter window) or OverBudget
	// (the subscriber link's share for repair was spent).
	RetransmitsSkipped [rtxbudget.OverBudget + 1]uint64
	// Liveness counts what silent subscribers led to, by LivenessEvent.
	Liveness       [numLivenessEvents]uint64
	PaddingPackets uint64 // sent to probe a subscriber's bandwidth
	// REDPackets counts Opus RED packets forwarded as RED; REDAsOpus those
	// handed to a subscriber without RED as their primary block.
	REDPackets, REDAsOpus uint64
	// Estimates counts bandwidth estimates applied to subscribers' video
	// tracks, indexed by EstimateSource.
	Estimates    [numEstimateSources]uint64
	NACKsSent    uint64                        // sequence numbers asked of publishers
	PLIsSent     uint64                        // key frame requests sent to publishers
	PLIs         [numKeyframeReasons]uint64    // the same, indexed by KeyframeReason
	PLIsHeld     uint64                        // requests not sent: the layer was asked within pliInterval
	ReceiveDrops [numReceiveDropReasons]uint64 // received packets dropped before forwarding, indexed by ReceiveDropReason
	Socket       udpbatch.Stats                // Pion's writes (ICE, DTLS, RTCP, the slow path)
	FastPath     udpbatch.BatchStats           // packets sealed into send batches (egress.go)
	// ForwardDelay is how long after the SFU read a frame's first packet
	// the last subscriber's copy left (video: the wait for the rest of
	// the frame included; audio: per packet), one observation per
	// fan-out: per frame and track, or per part of a frame the hold let
	// go separately.
	ForwardDelay  Histogram
	TrackRefusals uint64 // offers refused by the track limits
	MediaTimeouts uint64 // participants removed: media not connected within MediaTimeout
}

// downStats are one DownTrack's counters, guarded by its mutex.
type downStats struct {
	packets, bytes uint64
	drops          [numDropReasons]uint64
	nacks, rtx     uint64
	padding        uint64 // probing packets sent
	red, redAsOpus uint64 // Opus RED packets sent as RED, and as plain Opus
	estimates      [numEstimateSources]uint64
	rtxBytes       uint64
	rtxSkipped     [rtxbudget.OverBudget + 1]uint64
}

func (s *downStats) add(o *downStats) {
	s.packets += o.packets
	s.bytes += o.bytes
	s.nacks += o.nacks
	s.rtx += o.rtx
	s.padding += o.padding
	s.red += o.red
	s.redAsOpus += o.redAsOpus
	s.rtxBytes += o.rtxBytes
	for i := range s.rtxSkipped {
		s.rtxSkipped[i] += o.rtxSkipped[i]
	}
	for i := range s.estimates {
		s.estimates[i] += o.estimates[i]
	}
	for i := range s.drops {
		s.drops[i] += o.drops[i]
	}
}

// retired keeps the counters of DownTracks and UpTracks that have ended, so
// the totals never go backwards.
type retired struct {
	mu        sync.Mutex
	down      downStats
	nacksSent uint64
	plis      [numKeyframeReasons]uint64
	plisHeld  uint64
}

// Stats returns the counters. It walks every room, so call it at scrape
// rate, not per packet.
func (s *SFU) Stats() Stats {
	s.mu.Lock()
	rooms := make([]*Room, 0, len(s.rooms))
	for _, r := range s.rooms {
		rooms = append(rooms, r)
	}
	s.mu.Unlock()

	s.retired.mu.Lock()
	total := s.retired.down
	out := Stats{Rooms: len(rooms), NACKsSent: s.retired.nacksSent, PLIs: s.retired.plis, PLIsHeld: s.retired.plisHeld, TrackRefusals: s.trackRefusals.Load(), MediaTimeouts: s.mediaTimeouts.Load()}
	s.retired.mu.Unlock()
	for _, r := range rooms {
		r.mu.Lock()
		out.Participants += len(r.participants)
		out.Tracks += len(r.tracks)
		for _, t := range r.tracks {
			out.NACKsSent += t.nacksSent.Load()
			for i := range t.plisSent {
				out.PLIs[i] += t.plisSent[i].Load()
			}
			out.PLIsHeld += t.plisHeld.Load()
		}
		ps := append([]*Participant(nil), r.participants...)
		r.mu.Unlock()
		for _, p := range ps {
			p.subMu.Lock()
			for _, d := range p.downs {
				d.mu.Lock()
				total.add(&d.stats)
				d.mu.Unlock()
			}
			p.subMu.Unlock()
		}
	}
	out.PacketsForwarded, out.BytesForwarded = total.packets, total.bytes
	out.Drops = total.drops
	out.NACKsReceived, out.Retransmits = total.nacks, total.rtx
	out.PaddingPackets = total.padding
	out.REDPackets, out.REDAsOpus = total.red, total.redAsOpus
	out.Estimates = total.estimates
	out.RetransmitBytes, out.RetransmitsSkipped = total.rtxBytes, total.rtxSkipped
	for i := range out.Liveness {
		out.Liveness[i] = s.liveness[i].Load()
	}
	for _, n := range out.PLIs {
		out.PLIsSent += n
	}
	out.Socket = s.batch.Stats()
	out.ReceiveDrops[ReceiveLate] = s.rxDrops.Late.Load()
	out.ReceiveDrops[ReceiveFull] = s.rxDrops.Full.Load()
	out.FastPath = s.sock.Stats()
	out.ForwardDelay = s.fanout.delay.snapshot()
	return out
}

// retireDown folds an ending DownTrack's counters into the totals.
func (s *SFU) retireDown(d *DownTrack) {
	d.mu.Lock()
	st := d.stats
	d.stats = downStats{}
	d.mu.Unlock()
	s.retired.mu.Lock()
	s.retired.down.add(&st)
	s.retired.mu.Unlock()
}

// retireUp folds an ending UpTrack's counters into the totals.
func (s *SFU) retireUp(u *UpTrack) {
	s.retired.mu.Lock()
	s.retired.nacksSent += u.nacksSent.Swap(0)
	for i := range u.plisSent {
		s.retired.plis[i] += u.plisSent[i].Swap(0)
	}
	s.retired.plisHeld += u.plisHeld.Swap(0)
	s.retired.mu.Unlock()
}
