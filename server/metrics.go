package server

import (
	"time"

	"github.com/monkeythorn/meet/metrics"
	"github.com/monkeythorn/meet/sfu"
	"github.com/monkeythorn/meet/sfu/rtxbudget"
)

// joinTimer feeds the join latency histogram from the SFU's MemberJoined
// events (sfu.RoomObserver): the time from the client's join message to
// its place in the room, checks before the join included, is the server's
// part of the join latency.
type joinTimer struct{ s *Server }

func (t joinTimer) RoomEvent(e sfu.RoomEvent) {
	if j, ok := e.(sfu.MemberJoined); ok && !j.Requested.IsZero() {
		t.s.observeJoin(time.Since(j.Requested))
	}
}

// newMetrics builds the node's registry over whatever this node runs; the
// functions below turn each part's statistics into the metrics package's
// plain types.
func (s *Server) newMetrics() (*metrics.Metrics, error) {
	mc := metrics.Config{SFU: s.mediaStats, Signaling: s.signalingStats, Limits: s.limitRefusals, Process: s.cfg.ProcessMetrics}
	if s.turn != nil {
		mc.TURN = s.turnStats
	}
	return metrics.New(mc)
}

func (s *Server) mediaStats() metrics.Media {
	st := s.sfu.Stats()
	m := metrics.Media{
		Rooms: st.Rooms, Participants: st.Participants, Tracks: st.Tracks,
		PacketsForwarded: st.PacketsForwarded, BytesForwarded: st.BytesForwarded,
		Drops:         make(map[string]uint64, len(st.Drops)),
		NACKsReceived: st.NACKsReceived, Retransmits: st.Retransmits, NACKsSent: st.NACKsSent,
		PLIs: make(map[string]uint64, len(st.PLIs)), PLIsHeld: st.PLIsHeld,
		ReceiveDrops:    make(map[string]uint64, len(st.ReceiveDrops)),
		RetransmitBytes: st.RetransmitBytes, RetransmitsSkipped: map[string]uint64{}, Liveness: map[string]uint64{},
		SocketPackets:      st.Socket.Packets + st.FastPath.Datagrams,
		SocketSyscalls:     st.Socket.Syscalls + st.FastPath.Syscalls,
		SocketErrors:       st.Socket.Errors + st.FastPath.Errors,
		SocketGSODatagrams: st.FastPath.GSODatagrams,
		RED:                map[string]uint64{"red": st.REDPackets, "opus": st.REDAsOpus},
		Estimates:          make(map[string]uint64, len(st.Estimates)),
		ForwardDelay:       metrics.Histogram{Bounds: st.ForwardDelay.Bounds, Counts: st.ForwardDelay.Counts, Sum: st.ForwardDelay.Sum},
	}
	for r, v := range st.Drops { // every reason of the enumeration, zeros included
		m.Drops[sfu.DropReason(r).String()] = v
	}
	for src, v := range st.Estimates {
		m.Estimates[sfu.EstimateSource(src).String()] = v
	}
	for r, v := range st.ReceiveDrops {
		m.ReceiveDrops[sfu.ReceiveDropReason(r).String()] = v
	}
	for r, v := range st.PLIs {
		m.PLIs[sfu.KeyframeReason(r).String()] = v
	}
	for _, r := range []rtxbudget.Verdict{rtxbudget.TooOld, rtxbudget.OverBudget} {
		m.RetransmitsSkipped[r.String()] = st.RetransmitsSkipped[r]
	}
	for e, v := range st.Liveness {
		if sfu.LivenessEvent(e) != sfu.LivenessUnknown {
			m.Liveness[sfu.LivenessEvent(e).String()] = v
		}
	}
	return m
}

func (s *Server) signalingStats() metrics.Signaling {
	st := s.sig.Stats()
	return metrics.Signaling{Sessions: st.Sessions, AcceptedJoins: st.AcceptedJoins, RefusedJoins: st.RefusedJoins,
		SlowClients: st.SlowClients, BadMessages: st.BadMessages}
}

// turnStats names the TURN server's refusals; the names are the metric's
// fixed reasons.
func (s *Server) turnStats() metrics.TURN {
	st := s.turn.Stats()
	return metrics.TURN{Allocations: s.turn.AllocationCount(), Refused: map[string]uint64{
		"peer_not_allowed":        st.RefusedPermissions,
		"dropped_to_peer":         st.DroppedToPeer,
		"dropped_from_peer":       st.DroppedFromPeer,
		"auth_failure":            st.AuthFailures,
		"not_in_call":             st.NotInCall,
		"allocation_quota":        st.QuotaRefusals,
		"allocation_quota_source": st.SourceQuota,
		"allocation_quota_total":  st.TotalQuota,
		"idle_connection":         st.IdleConns,
		"idle_allocation":         st.IdleAllocations,
	}}
}

// observeJoin feeds the histogram; s.metrics is set in New before any
// join can happen.
func (s *Server) observeJoin(d time.Duration) { s.metrics.ObserveJoin(d) }

// Metrics returns the node's Prometheus registry; serve its Handler on a
// separate, private listener.
func (s *Server) Metrics() *metrics.Metrics { return s.metrics }
