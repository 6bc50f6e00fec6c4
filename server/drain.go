package server

import (
	"context"
	"time"
)

// drainPoll is how often Drain looks whether the last call has ended.
const drainPoll = 100 * time.Millisecond

// Drain is the first half of a graceful stop: from now on /readyz fails,
// tokens and joins are refused, and every connected client is told (a
// drain message the page shows) that the server goes away at ctx's
// deadline. It then waits until every client has left or ctx is done, and
// returns ctx.Err() in the second case. It closes nothing: call Shutdown
// next, which ends whatever is left.
func (s *Server) Drain(ctx context.Context, message string) error {
	deadline, ok := ctx.Deadline()
	if !ok {
		deadline = time.Now().Add(time.Hour)
	}
	s.mu.Lock()
	s.draining.Store(true)
	s.mu.Unlock()
	s.sig.Drain(message, deadline)
	t := time.NewTicker(drainPoll)
	defer t.Stop()
	for s.sig.Stats().Sessions > 0 {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
	}
	return nil
}

// Sessions returns the number of open signaling connections: people in a
// call or joining one.
func (s *Server) Sessions() int { return s.sig.Stats().Sessions }
