package signaling

import (
	"errors"
	"time"

	"github.com/monkeythorn/meet/auth"
	"github.com/monkeythorn/meet/moderation"
)

// RejoinTickets issues and checks the tickets that let a participant whose
// connection dropped back in past a lock or lobby. *auth.Issuer satisfies
// it.
type RejoinTickets interface {
	RejoinTicket(room, id string) string
	CheckRejoinTicket(room, id, ticket string) bool
}

// admit is the host rules' check before the join: it attaches the session
// to its meeting and asks the rules. A newcomer the lobby holds waits here
// until a host lets it in. On a refusal the client has been sent a fatal
// error and admit reports false.
func (s *session) admit(c *auth.Claims, j *Join) bool {
	s.room, s.hostKey = RoomID(c.Room, c.E2EE), c.Grants.Host
	s.mt = s.h.attach(s.room)
	a := moderation.Arrival{ID: s.id, HostKey: c.Grants.Host, Profile: lobbyProfile(j.Profile)}
	if t := s.h.cfg.Tickets; t != nil && j.RejoinID != "" && t.CheckRejoinTicket(c.Room, j.RejoinID, j.RejoinTicket) {
		a.Rejoin = j.RejoinID
	}
	switch d := s.mt.rules.Arrive(a); d {
	case moderation.Enter:
		return true
	case moderation.Wait:
		return s.waitInLobby()
	default:
		s.fail(refusal(d))
		return false
	}
}

// MaxLobbyProfile caps the sealed name a waiting newcomer shows the hosts
// (a sealed name of 64 characters is a few hundred bytes): every change of
// the lobby sends the whole list to every host, so 50 waiters with 16 KiB
// profiles must not make each update most of a megabyte. A longer one is
// shown as a guest without a name.
const MaxLobbyProfile = 2048

func lobbyProfile(p string) string {
	if len(p) > MaxLobbyProfile {
		return ""
	}
	return p
}

func refusal(d moderation.Decision) *wireError {
	switch d {
	case moderation.RefusedLocked:
		return fatalErr(CodeLocked, MsgLocked)
	case moderation.RefusedRemoved:
		return fatalErr(CodeRemoved, MsgRemoved)
	case moderation.RefusedLobbyFull:
		return fatalErr(CodeLobbyFull, MsgLobbyFull)
	}
	return fatalErr(CodeInternal, "could not join the room")
}

// waitInLobby holds a newcomer until a host admits it (the client is sent
// admitted and answers with its join again), denies it (the host's
// session ends this one), or it gives up. Only join, leave, ping and pong
// are read meanwhile.
func (s *session) waitInLobby() bool {
	s.mt.mu.Lock()
	s.mt.waiting[s.id] = s
	s.mt.mu.Unlock()
	s.send(&Waiting{Type: TypeWaiting})
	s.mt.sendLobby()
	for {
		_ = s.conn.SetReadDeadline(time.Now().Add(s.h.cfg.PongWait))
		data, msgErr, err := s.read()
		if err != nil {
			return false
		}
		if !s.bucket.Allow() {
			s.fail(fatalErr(CodeTooManyErrors, "too many messages; slow down"))
			return false
		}
		if msgErr == nil {
			var enter bool
			enter, msgErr = s.lobbyMessage(data)
			if enter {
				return true
			}
		}
		if errors.Is(msgErr, errLeave) || (msgErr != nil && !s.reject(msgErr)) {
			return false
		}
	}
}

// lobbyMessage handles one message of a waiting client; enter reports that
// it was admitted and may join now.
func (s *session) lobbyMessage(data []byte) (enter bool, err error) {
	_, msg, err := decode(data)
	if err != nil {
		return false, err
	}
	switch m := msg.(type) {
	case *Join:
		switch d := s.mt.rules.Arrive(moderation.Arrival{ID: s.id, Profile: lobbyProfile(m.Profile)}); d {
		case moderation.Enter:
			s.meta.Profile = m.Profile
			s.admittedAt = time.Now()
			return true, nil
		case moderation.Wait:
			s.send(&Waiting{Type: TypeWaiting})
			return false, nil
		default:
			return false, refusal(d)
		}
	case *Leave:
		return false, errLeave
	case *Ping:
		s.send(&Pong{Type: TypePong, T: m.T})
		return false, nil
	case *Pong:
		return false, nil
	}
	return false, protoErr(CodeNotJoined, "waiting for a host to let you in: only join, leave and ping until then")
}

// enterMeeting records the join with the rules once the SFU took the
// participant, fills in the welcome's meeting state, sends it, and tells
// the others if the hosts changed.
//
// The state is read, the welcome queued and the session counted as joined
// under one hold of mt.mu: a state broadcast lists its recipients under
// that lock, so one that comes after this join's state was read reaches
// the new member, after its welcome. (Queued before joining, a host change
// made meanwhile was lost to it: TestHostKeyAndFirstIn failed so.)
func (s *session) enterMeeting(p Participant, w *Welcome) {
	changed := s.mt.rules.Join(s.id, s.hostKey)
	s.mt.mu.Lock()
	st := s.mt.state()
	w.Meeting = &st
	if s.mt.rules.IsHost(s.id) {
		w.Lobby = s.mt.lobbyEntries()
	}
	s.send(w) // never blocks: queues or drops a slow client
	delete(s.mt.waiting, s.id)
	s.mt.joined[s.id] = member{s: s, p: p}
	s.mt.mu.Unlock()
	if changed {
		s.mt.sendState(s.id)
	}
}

// leaveMeeting records that the session has gone (joined or waiting) and
// detaches it; the last one out drops the meeting. Idempotent.
func (s *session) leaveMeeting() {
	m := s.mt
	if m == nil {
		return
	}
	s.mt = nil
	var waiters []*session
	m.mu.Lock()
	if mb, ok := m.joined[s.id]; ok && mb.s == s {
		delete(m.joined, s.id)
		if len(m.joined) == 0 {
			// The last one out ends the meeting and its state; nobody is
			// left to let the waiting in.
			for _, w := range m.waiting {
				waiters = append(waiters, w)
			}
		}
	}
	if m.waiting[s.id] == s {
		delete(m.waiting, s.id)
	}
	m.mu.Unlock()
	for _, w := range waiters {
		w.fail(fatalErr(CodeClosed, MsgEnded))
	}
	stateChanged, lobbyChanged := m.rules.Leave(s.id)
	switch {
	case stateChanged:
		m.sendState("")
	case lobbyChanged:
		m.sendLobby()
	}
	s.h.detach(s.room, m)
}

// hostError maps a refused host action onto the error the client sees.
func hostError(err error) error {
	switch {
	case errors.Is(err, moderation.ErrNotHost):
		return protoErr(CodeNotHost, "only a host can do that")
	case errors.Is(err, moderation.ErrNoParticipant):
		return protoErr(CodeNoParticipant, "that participant is not in the meeting (or no longer waiting)")
	case errors.Is(err, moderation.ErrSelf):
		return protoErr(CodeBadMessage, "not possible on yourself")
	}
	return err
}

func (s *session) onHand(m *Hand) error {
	s.meta.HandRaised = m.Raised
	s.p.SetMeta(s.meta)
	return nil
}

// onRemove disconnects the target at once (or turns it away from the
// lobby); the rules refuse its id from now on.
func (s *session) onRemove(m *Remove) error {
	if err := s.mt.rules.Remove(s.id, m.ID); err != nil {
		return hostError(err)
	}
	if w := s.mt.waiter(m.ID); w != nil {
		w.fail(fatalErr(CodeDenied, MsgDenied))
	}
	if mb, ok := s.mt.member(m.ID); ok {
		// Told to the others before the target's session can end: its
		// end makes the SFU send participant-left, and browsers need the
		// name (known until then) to show who was removed.
		s.mt.broadcast(&ParticipantRemoved{Type: TypeRemoved, ID: m.ID, By: s.id}, m.ID)
		// The error is queued before the leave ends the session; closing
		// the participant stops its media for everyone now rather than
		// when its socket has closed.
		mb.s.fail(fatalErr(CodeRemoved, MsgRemoved))
		mb.p.Close()
	}
	s.mt.sendState("")
	return nil
}

func (s *session) onSetLock(m *SetLock) error {
	if err := s.mt.rules.SetLocked(s.id, m.Locked); err != nil {
		return hostError(err)
	}
	s.mt.sendState("")
	return nil
}

func (s *session) onSetLobby(m *SetLobby) error {
	ids, err := s.mt.rules.SetLobby(s.id, m.Enabled)
	if err != nil {
		return hostError(err)
	}
	for _, id := range ids {
		if w := s.mt.waiter(id); w != nil {
			w.send(&Admitted{Type: TypeAdmitted})
		}
	}
	s.mt.sendState("")
	return nil
}

func (s *session) onAdmit(m *Admit) error {
	if err := s.mt.rules.Admit(s.id, m.ID); err != nil {
		return hostError(err)
	}
	if w := s.mt.waiter(m.ID); w != nil {
		w.send(&Admitted{Type: TypeAdmitted})
	}
	s.mt.sendLobby()
	return nil
}

func (s *session) onDeny(m *Deny) error {
	if err := s.mt.rules.Deny(s.id, m.ID); err != nil {
		return hostError(err)
	}
	if w := s.mt.waiter(m.ID); w != nil {
		w.fail(fatalErr(CodeDenied, MsgDenied))
	}
	s.mt.sendLobby()
	return nil
}

func (s *session) onMakeHost(m *MakeHost) error {
	if err := s.mt.rules.HandOver(s.id, m.ID); err != nil {
		return hostError(err)
	}
	s.mt.sendState("")
	return nil
}

func (s *session) onAskMute(m *AskMute) error {
	if err := s.mt.rules.CheckHost(s.id); err != nil {
		return hostError(err)
	}
	req := &MuteRequest{Type: TypeMuteRequest, From: s.id}
	if m.ID == "" {
		s.mt.broadcast(req, s.id)
		return nil
	}
	mb, ok := s.mt.member(m.ID)
	if !ok || m.ID == s.id {
		return hostError(moderation.ErrNoParticipant)
	}
	mb.s.send(req)
	return nil
}
