package server

import (
	"time"

	"github.com/monkeythorn/meet/metrics"
	"github.com/monkeythorn/meet/sfu"
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

// newMetrics builds the node's registry over whatever this node runs. Typed
// nil pointers must not become non-nil interfaces, hence the checks.
func (s *Server) newMetrics() (*metrics.Metrics, error) {
	mc := metrics.Config{Signaling: s.sig, SFU: s.sfu, Process: s.cfg.ProcessMetrics}
	if s.turn != nil {
		mc.TURN = s.turn
	}
	return metrics.New(mc)
}

// observeJoin feeds the histogram; s.metrics is set in New before any
// join can happen.
func (s *Server) observeJoin(d time.Duration) { s.metrics.ObserveJoin(d) }

// Metrics returns the node's Prometheus registry; serve its Handler on a
// separate, private listener.
func (s *Server) Metrics() *metrics.Metrics { return s.metrics }
