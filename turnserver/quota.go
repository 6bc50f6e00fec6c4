package turnserver

import "sync"

// DefaultMaxAllocationsPerUser bounds allocations per TURN username. A
// browser makes one per TURN URL (UDP, TCP, TLS) per peer connection, and ICE
// restarts overlap old and new ones, so a participant needs well under 16;
// the cap stops one leaked credential from exhausting relay ports.
const DefaultMaxAllocationsPerUser = 16

// userQuota counts live allocations per username. The check and the creation
// are separate steps in pion, so concurrent Allocate requests of one user
// may overshoot by a few; that is good enough for an abuse limit.
type userQuota struct {
	mu    sync.Mutex
	max   int
	users map[string]int
}

func newUserQuota(max int) *userQuota {
	return &userQuota{max: max, users: make(map[string]int)}
}

func (q *userQuota) allow(user string) bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.users[user] < q.max
}

func (q *userQuota) add(user string, delta int) {
	q.mu.Lock()
	defer q.mu.Unlock()
	n := q.users[user] + delta
	if n <= 0 {
		delete(q.users, user)
		return
	}
	q.users[user] = n
}
