package sfu

import "sync"

// candidateGate keeps the subscriber connection's local candidates behind
// the offer they belong to. Pion gathers as soon as SetLocalDescription
// returns and may report a candidate before the offer is queued to the
// client; a candidate of a new ICE generation that reaches the client
// ahead of its offer carries credentials the client does not know yet, and
// the client drops it. The gate holds candidates from the moment an offer
// is being set until it has been queued, then sends them in order.
type candidateGate struct {
	mu      sync.Mutex
	holding bool
	held    []*Candidate
}

// hold starts holding candidates.
func (g *candidateGate) hold() {
	g.mu.Lock()
	g.holding = true
	g.mu.Unlock()
}

// pass sends c, or keeps it while holding. send must not block (it is the
// participant's queue), as it runs under the gate's lock to keep order.
func (g *candidateGate) pass(c *Candidate, send func(Signal)) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.holding {
		g.held = append(g.held, c)
		return
	}
	send(c)
}

// release sends what was held, in order, and stops holding.
func (g *candidateGate) release(send func(Signal)) {
	g.mu.Lock()
	defer g.mu.Unlock()
	for _, c := range g.held {
		send(c)
	}
	g.held, g.holding = nil, false
}
