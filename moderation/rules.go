package moderation

import (
	"slices"
	"sync"
)

// DefaultMaxWaiting bounds the lobby queue, so a leaked link cannot flood
// the hosts' list.
const DefaultMaxWaiting = 50

// Arrival is someone asking to join.
type Arrival struct {
	ID string
	// HostKey: the participant presented the meeting's host key. It joins
	// as a host, past the lock and the lobby.
	HostKey bool
	// Rejoin is the id this participant had before its connection dropped
	// (its rejoin ticket checked by the caller), or "". A returning
	// participant passes the lock and the lobby unless it was removed.
	Rejoin string
	// Profile is the sealed display name hosts see while it waits.
	Profile string
}

// Waiter is someone in the lobby.
type Waiter struct {
	ID      string
	Profile string // sealed; opened in the hosts' browsers
}

// State is what every participant sees of the meeting's rules.
type State struct {
	Hosts  []string // in the order they became hosts
	Locked bool
	Lobby  bool
}

// Rules are one meeting's host rules. The zero value is not usable; use
// New. Safe for concurrent use.
type Rules struct {
	maxWaiting int

	mu       sync.Mutex
	members  []string // joined, in join order
	hosts    []string
	waiting  []Waiter
	admitted map[string]bool     // let in from the lobby, not joined yet
	removed  map[string]struct{} // removed or denied: refused for good
	locked   bool
	lobby    bool
}

// New returns the rules of a fresh meeting: unlocked, no lobby, no host
// until someone joins. maxWaiting <= 0 means DefaultMaxWaiting.
func New(maxWaiting int) *Rules {
	if maxWaiting <= 0 {
		maxWaiting = DefaultMaxWaiting
	}
	return &Rules{maxWaiting: maxWaiting, admitted: map[string]bool{}, removed: map[string]struct{}{}}
}

// Arrive decides whether a newcomer may join now. Wait puts it in the lobby
// queue; it enters once a host admits it (Admit) and then joins (Join).
func (r *Rules) Arrive(a Arrival) Decision {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.isRemoved(a.ID) || (a.Rejoin != "" && r.isRemoved(a.Rejoin)) {
		return RefusedRemoved
	}
	switch {
	case a.HostKey, a.Rejoin != "", r.admitted[a.ID]:
		return Enter
	case r.locked:
		return RefusedLocked
	case !r.lobby:
		return Enter
	}
	if i := r.waiterIndex(a.ID); i >= 0 {
		r.waiting[i].Profile = a.Profile
		return Wait
	}
	if len(r.waiting) >= r.maxWaiting {
		return RefusedLobbyFull
	}
	r.waiting = append(r.waiting, Waiter{ID: a.ID, Profile: a.Profile})
	return Wait
}

// Join records that id has joined. It becomes a host if it presented the
// host key or if the meeting has no host. It reports whether the State
// changed.
func (r *Rules) Join(id string, hostKey bool) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	delete(r.admitted, id)
	r.dropWaiter(id)
	if !slices.Contains(r.members, id) {
		r.members = append(r.members, id)
	}
	if (hostKey || len(r.hosts) == 0) && !slices.Contains(r.hosts, id) {
		r.hosts = append(r.hosts, id)
		return true
	}
	return false
}

// Leave records that id has gone (left, dropped, removed, or stopped
// waiting). When the last host leaves, the longest-present participant
// becomes host. It reports whether the State changed and whether the
// lobby queue did.
func (r *Rules) Leave(id string) (stateChanged, lobbyChanged bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	lobbyChanged = r.dropWaiter(id)
	delete(r.admitted, id)
	r.members = slices.DeleteFunc(r.members, func(m string) bool { return m == id })
	n := len(r.hosts)
	r.hosts = slices.DeleteFunc(r.hosts, func(m string) bool { return m == id })
	stateChanged = len(r.hosts) != n
	if len(r.hosts) == 0 && len(r.members) > 0 {
		r.hosts = append(r.hosts, r.members[0])
		stateChanged = true
	}
	return stateChanged, lobbyChanged
}

// Remove takes target out of the meeting for good: it stops being a member
// or host at once, and its id is refused from now on (its token carries
// that id). A waiting target is denied.
func (r *Rules) Remove(actor, target string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if err := r.hostOnly(actor); err != nil {
		return err
	}
	if actor == target {
		return ErrSelf
	}
	if !slices.Contains(r.members, target) && r.waiterIndex(target) < 0 {
		return ErrNoParticipant
	}
	r.removed[target] = struct{}{}
	r.dropWaiter(target)
	r.members = slices.DeleteFunc(r.members, func(m string) bool { return m == target })
	r.hosts = slices.DeleteFunc(r.hosts, func(m string) bool { return m == target })
	return nil
}

// Admit lets a waiting participant in; it then joins with Join.
func (r *Rules) Admit(actor, id string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if err := r.hostOnly(actor); err != nil {
		return err
	}
	if !r.dropWaiter(id) {
		return ErrNoParticipant
	}
	r.admitted[id] = true
	return nil
}

// Deny turns a waiting participant away; its id is refused from now on.
func (r *Rules) Deny(actor, id string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if err := r.hostOnly(actor); err != nil {
		return err
	}
	if !r.dropWaiter(id) {
		return ErrNoParticipant
	}
	r.removed[id] = struct{}{}
	return nil
}

// SetLocked locks or unlocks the meeting. Locked, nobody new joins or
// waits; hosts with the host key and returning participants still can.
func (r *Rules) SetLocked(actor string, locked bool) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if err := r.hostOnly(actor); err != nil {
		return err
	}
	r.locked = locked
	return nil
}

// SetLobby turns the lobby on or off. Turning it off lets everyone waiting
// in; their ids are returned.
func (r *Rules) SetLobby(actor string, on bool) ([]string, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if err := r.hostOnly(actor); err != nil {
		return nil, err
	}
	r.lobby = on
	if on {
		return nil, nil
	}
	ids := make([]string, 0, len(r.waiting))
	for _, w := range r.waiting {
		ids = append(ids, w.ID)
		r.admitted[w.ID] = true
	}
	r.waiting = nil
	return ids, nil
}

// HandOver makes target a host in actor's place.
func (r *Rules) HandOver(actor, target string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if err := r.hostOnly(actor); err != nil {
		return err
	}
	if actor == target {
		return ErrSelf
	}
	if !slices.Contains(r.members, target) {
		return ErrNoParticipant
	}
	r.hosts = slices.DeleteFunc(r.hosts, func(m string) bool { return m == actor })
	if !slices.Contains(r.hosts, target) {
		r.hosts = append(r.hosts, target)
	}
	return nil
}

// CheckHost returns ErrNotHost unless actor is a host.
func (r *Rules) CheckHost(actor string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.hostOnly(actor)
}

// IsHost reports whether id is a host.
func (r *Rules) IsHost(id string) bool { return r.CheckHost(id) == nil }

// State returns a copy of the state everyone sees.
func (r *Rules) State() State {
	r.mu.Lock()
	defer r.mu.Unlock()
	return State{Hosts: slices.Clone(r.hosts), Locked: r.locked, Lobby: r.lobby}
}

// Waiting returns a copy of the lobby queue, first come first.
func (r *Rules) Waiting() []Waiter {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.waiting)
}

func (r *Rules) hostOnly(actor string) error {
	if !slices.Contains(r.hosts, actor) {
		return ErrNotHost
	}
	return nil
}

func (r *Rules) isRemoved(id string) bool {
	_, ok := r.removed[id]
	return ok
}

func (r *Rules) waiterIndex(id string) int {
	return slices.IndexFunc(r.waiting, func(w Waiter) bool { return w.ID == id })
}

func (r *Rules) dropWaiter(id string) bool {
	i := r.waiterIndex(id)
	if i < 0 {
		return false
	}
	r.waiting = slices.Delete(r.waiting, i, i+1)
	return true
}
