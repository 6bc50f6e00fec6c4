package server

import (
	"time"

	"github.com/monkeythorn/meet/metrics"
	"github.com/monkeythorn/meet/signaling"
)

// timedConference measures joins for the join latency histogram. Join is
// what stands between a client's join message and its welcome (the token
// check before it takes microseconds), so its duration is the server's part
// of the join latency.
type timedConference struct {
	signaling.Conference
	observe func(time.Duration)
}

func (c timedConference) Join(room string, req signaling.JoinRequest) (signaling.Participant, error) {
	start := time.Now()
	p, err := c.Conference.Join(room, req)
	if err == nil {
		c.observe(time.Since(start))
	}
	return p, err
}

// newMetrics builds the node's registry over whatever this node runs. Typed
// nil pointers must not become non-nil interfaces, hence the checks.
func (s *Server) newMetrics() (*metrics.Metrics, error) {
	mc := metrics.Config{Signaling: s.sig, Process: s.cfg.ProcessMetrics}
	if s.sfu != nil {
		mc.SFU = s.sfu
	}
	if s.turn != nil {
		mc.TURN = s.turn
	}
	return metrics.New(mc)
}

// observeJoin feeds the histogram; s.metrics is set in New before any
// request can arrive.
func (s *Server) observeJoin(d time.Duration) { s.metrics.ObserveJoin(d) }

// Metrics returns the node's Prometheus registry; serve its Handler on a
// separate, private listener.
func (s *Server) Metrics() *metrics.Metrics { return s.metrics }
