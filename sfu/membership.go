package sfu

import "time"

// The SFU is the one owner of room membership: a room exists while someone
// is in it, and who is in it lives in Room.participants only. Whoever needs
// to know (billing meters paid rooms, the cluster records which node hosts a
// room, metrics time joins) subscribes through Config.Observers and hears of
// every change as a typed RoomEvent, instead of keeping a second list.

// RoomTerms are what the join that opens a room decides for the room's
// whole life, like its E2EE flag; the terms of later joins are ignored.
// Callers decide them before the join (for example from the plan in the
// join token).
type RoomTerms struct {
	// MaxParticipants caps the room; 0 = Config.MaxParticipants, and never
	// more than it.
	MaxParticipants int
	// MaxDuration ends the meeting for everyone after this long, each with
	// a Closed event carrying EndReason; 0 = no limit.
	MaxDuration time.Duration
	EndReason   string
	// Payer is who pays for the room's connected time, opaque to the SFU
	// and handed back in MemberLeft; "" = nobody (nothing is timed).
	Payer string
}

// RoomObserver hears of membership changes. Events of one room come in
// order (RoomOpened, then MemberJoined and MemberLeft as people come and
// go, then RoomClosed), from whichever goroutine made the change and while
// the SFU holds a lock: RoomEvent must be quick, must not block and must
// not call back into the SFU. One exception to the order: a room ended by
// CloseRoom (length limit, moved to another node) is closed at once, so a
// new meeting can open under its code, and its members' MemberLeft follow.
type RoomObserver interface {
	RoomEvent(e RoomEvent)
}

// RoomObserverFunc lets a function observe rooms.
type RoomObserverFunc func(RoomEvent)

// RoomEvent implements RoomObserver.
func (f RoomObserverFunc) RoomEvent(e RoomEvent) { f(e) }

// RoomEvent is one of RoomOpened, MemberJoined, MemberLeft and RoomClosed.
type RoomEvent interface{ roomEvent() }

// RoomOpened: the first join of a room succeeded.
type RoomOpened struct {
	Room  string
	Terms RoomTerms
}

// MemberJoined: a participant joined Room. Requested is when the join was
// asked for (JoinOptions.Requested), for join latency; zero if unknown.
type MemberJoined struct {
	Room      string
	ID        string
	Requested time.Time
}

// MemberLeft: a participant left Room. Payer is the room's
// RoomTerms.Payer; in a room with a payer, Connected is the time from the
// join (by Config.Now). Rooms nobody pays for are not timed at all:
// Connected is 0.
type MemberLeft struct {
	Room      string
	ID        string
	Connected time.Duration
	Payer     string
}

// RoomClosed: the room emptied or was ended; a join under its code opens a
// new room.
type RoomClosed struct{ Room string }

func (RoomOpened) roomEvent()   {}
func (MemberJoined) roomEvent() {}
func (MemberLeft) roomEvent()   {}
func (RoomClosed) roomEvent()   {}

// observe tells every observer of e.
func (s *SFU) observe(e RoomEvent) {
	for _, o := range s.cfg.Observers {
		o.RoomEvent(e)
	}
}

// CloseRoom ends the meeting in room for everyone: each participant is
// removed and its Listener gets why as the last event. The room is closed
// at once, so a join after this opens a new meeting. It reports how many
// participants were removed.
func (s *SFU) CloseRoom(room string, why Closed) int {
	s.mu.Lock()
	r := s.rooms[room]
	if r != nil {
		s.dropRoom(r)
	}
	s.mu.Unlock()
	if r == nil {
		return 0
	}
	ps := r.snapshot()
	for _, p := range ps {
		p.closeWith(why)
	}
	return len(ps)
}

// endMeeting is the room's length timer: its terms' MaxDuration is up.
func (s *SFU) endMeeting(r *Room) {
	s.mu.Lock()
	live := s.rooms[r.id] == r
	if live {
		s.dropRoom(r)
	}
	s.mu.Unlock()
	if !live {
		return
	}
	ps := r.snapshot()
	s.log.Info("meeting reached its length limit", "room", r.log, "participants", len(ps))
	for _, p := range ps {
		p.closeWith(Closed{Reason: r.terms.EndReason})
	}
}

// dropRoom forgets r and tells the observers; the caller holds s.mu.
func (s *SFU) dropRoom(r *Room) {
	delete(s.rooms, r.id)
	r.stop()
	s.observe(RoomClosed{Room: r.id})
	s.log.Debug("room closed", "room", r.log)
}
