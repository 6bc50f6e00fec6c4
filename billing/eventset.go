package billing

import "sync"

// maxRememberedEvents bounds the webhook replay memory. Stripe retries a
// failed delivery for up to three days, but a delivered one is not resent,
// so only recent duplicates (retries racing a slow answer, replays) matter.
const maxRememberedEvents = 4096

// eventSet remembers the last N Stripe event ids handled, oldest evicted
// first.
type eventSet struct {
	mu   sync.Mutex
	ids  map[string]struct{}
	ring []string
	next int
}

func newEventSet(n int) *eventSet {
	return &eventSet{ids: make(map[string]struct{}, n), ring: make([]string, n)}
}

// add records id and reports whether it was new. Callers add before
// handling, so two concurrent deliveries of one event are handled once, and
// remove on failure so Stripe's retry is handled.
func (s *eventSet) add(id string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.ids[id]; ok {
		return false
	}
	if old := s.ring[s.next]; old != "" {
		delete(s.ids, old)
	}
	s.ring[s.next] = id
	s.next = (s.next + 1) % len(s.ring)
	s.ids[id] = struct{}{}
	return true
}

// remove forgets id. Its ring slot stays occupied until overwritten, which
// only makes eviction of a later re-add of the same id slightly early.
func (s *eventSet) remove(id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.ids, id)
}

func (s *eventSet) len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.ids)
}
