package signaling

import (
	"github.com/monkeythorn/meet/moderation"
	"sync"
)

// meeting is one room's host rules and the sessions in it. It exists on
// the node whose sessions are in the room (in a cluster, the node that
// hosts the room: a join anywhere else is redirected before it enters), so
// that node alone enforces the rules. It lives while any session is
// attached (joining, waiting in the lobby or joined) and is dropped with
// the last one, like everything else about a meeting.
type meeting struct {
	rules *moderation.Rules
	refs  int // sessions attached; guarded by Handler.mmu

	mu      sync.Mutex
	joined  map[string]member   // by participant id
	waiting map[string]*session // in the lobby, by participant id
}

// member is a joined session and its SFU participant.
type member struct {
	s *session
	p Participant
}

// attach returns room's meeting, making it if needed, and counts s in.
func (h *Handler) attach(room string) *meeting {
	h.mmu.Lock()
	defer h.mmu.Unlock()
	m := h.meetings[room]
	if m == nil {
		m = &meeting{rules: moderation.New(0), joined: map[string]member{}, waiting: map[string]*session{}}
		h.meetings[room] = m
	}
	m.refs++
	return m
}

// detach counts a session out; the last one drops the meeting.
func (h *Handler) detach(room string, m *meeting) {
	h.mmu.Lock()
	defer h.mmu.Unlock()
	m.refs--
	if m.refs == 0 && h.meetings[room] == m {
		delete(h.meetings, room)
	}
}

// meetingCount is the number of live meetings, for tests.
func (h *Handler) meetingCount() int {
	h.mmu.Lock()
	defer h.mmu.Unlock()
	return len(h.meetings)
}

func (m *meeting) member(id string) (member, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	mb, ok := m.joined[id]
	return mb, ok
}

func (m *meeting) waiter(id string) *session {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.waiting[id]
}

// sessions returns the joined sessions, except skip.
func (m *meeting) sessions(skip string) []*session {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]*session, 0, len(m.joined))
	for id, mb := range m.joined {
		if id != skip {
			out = append(out, mb.s)
		}
	}
	return out
}

// broadcast sends v to every joined session except skip.
func (m *meeting) broadcast(v any, skip string) {
	for _, s := range m.sessions(skip) {
		s.send(v)
	}
}

func (m *meeting) state() MeetingState {
	st := m.rules.State()
	return MeetingState{Hosts: st.Hosts, Locked: st.Locked, Lobby: st.Lobby}
}

// sendState tells everyone joined (but skip) who the hosts are and how the
// meeting is set. A host who just became one also gets the lobby list.
func (m *meeting) sendState(skip string) {
	st := m.state()
	m.broadcast(&RoomState{Type: TypeRoomState, MeetingState: st}, skip)
	if len(m.rules.Waiting()) > 0 {
		m.sendLobby()
	}
}

func (m *meeting) lobbyEntries() []LobbyEntry {
	out := []LobbyEntry{}
	for _, w := range m.rules.Waiting() {
		out = append(out, LobbyEntry{ID: w.ID, Profile: w.Profile})
	}
	return out
}

// sendLobby gives every host the current lobby list.
func (m *meeting) sendLobby() {
	list := &LobbyList{Type: TypeLobbyList, Waiting: m.lobbyEntries()}
	for _, id := range m.rules.State().Hosts {
		if mb, ok := m.member(id); ok {
			mb.s.send(list)
		}
	}
}
