package signaling

import (
	"errors"
	"time"

	"github.com/monkeythorn/meet/auth"
	"github.com/monkeythorn/meet/sfu"
)

// join runs the first exchange: a join message within JoinTimeout, token
// check, SFU join, Welcome, Start. On failure the client has been sent a
// fatal error and the session is finishing.
func (s *session) join() bool {
	_ = s.conn.SetReadDeadline(time.Now().Add(s.h.cfg.JoinTimeout))
	data, msgErr, err := s.read()
	if err != nil {
		if isTimeout(err) {
			s.fail(fatalErr(CodeNotJoined, "no join message in time"))
		}
		return false
	}
	if msgErr != nil {
		s.fail(fatal(toWire(msgErr)))
		return false
	}
	requested := time.Now()
	_, msg, err := decode(data)
	if err != nil {
		s.fail(fatal(toWire(err)))
		return false
	}
	j, ok := msg.(*Join)
	if !ok {
		s.fail(fatalErr(CodeNotJoined, "the first message must be join"))
		return false
	}
	if s.h.draining() != nil {
		s.fail(fatalErr(CodeDraining, "the server is shutting down; try again in a moment"))
		return false
	}
	claims, err := s.verify(j)
	if err != nil {
		s.fail(tokenError(err))
		return false
	}
	s.id, s.grants, s.meta = claims.Subject, claims.Grants, Meta{Profile: j.Profile}
	req := JoinRequest{ID: s.id, E2EE: claims.E2EE, Meta: s.meta, Listener: s, Claims: claims, Requested: requested}
	room := RoomID(claims.Room, claims.E2EE)
	err = s.h.admit(room, &req) // Config.Checks: placement, plan terms
	if err == nil && !s.admit(claims, j) {
		return false // locked, removed, denied, or gave up waiting in the lobby
	}
	if !s.admittedAt.IsZero() {
		req.Requested = s.admittedAt // join latency leaves out the lobby wait
		req.Meta = s.meta            // the profile of the join after admission
	}
	var p Participant
	if err == nil {
		p, err = s.h.cfg.Conference.Join(room, req)
	}
	if err != nil && s.joinRedirect(err) {
		return false // multi-node: another node hosts the room, or none can
	}
	if err != nil {
		s.fail(joinError(err))
		if we := joinError(err); we.code == CodeInternal {
			s.log.Error("joining SFU", "err", err)
		}
		return false
	}
	s.p = p
	s.log.Debug("joined", "participant", s.id, "claims", claims)
	s.enterMeeting(p, s.welcome(claims))
	s.joined <- p.Done()
	p.Start()
	return true
}

// verify checks the token, and that it is for the room the client names if
// it names one.
func (s *session) verify(j *Join) (*auth.Claims, error) {
	if j.Room == "" {
		return s.h.cfg.Verifier.Verify(j.Token)
	}
	room, err := auth.ParseRoomCode(j.Room)
	if err != nil {
		return nil, err
	}
	return s.h.cfg.Verifier.VerifyForRoom(j.Token, room)
}

func (s *session) welcome(c *auth.Claims) *Welcome {
	w := &Welcome{Type: TypeWelcome, Version: Version, ID: s.id, E2EE: c.E2EE, Participants: []ParticipantInfo{}}
	for _, peer := range s.p.Peers() {
		w.Participants = append(w.Participants, participantInfo(peer))
	}
	if s.h.cfg.ICEServers != nil {
		w.ICEServers = s.h.cfg.ICEServers(s.id)
	}
	if s.h.cfg.Tickets != nil {
		w.Rejoin = s.h.cfg.Tickets.RejoinTicket(c.Room, s.id)
	}
	return w
}

func fatal(e *wireError) *wireError {
	c := *e
	c.fatal = true
	return &c
}

func tokenError(err error) *wireError {
	switch {
	case errors.Is(err, auth.ErrTokenExpired):
		return fatalErr(CodeUnauthorized, "token expired; fetch a new one from POST /api/token")
	case errors.Is(err, auth.ErrWrongRoom):
		return fatalErr(CodeUnauthorized, "the token is for another room")
	case errors.Is(err, auth.ErrBadRoomCode):
		return fatalErr(CodeBadMessage, "the room code is not valid")
	}
	return fatalErr(CodeUnauthorized, "token refused; fetch a new one from POST /api/token")
}

func joinError(err error) *wireError {
	if we, ok := refusedError(err); ok {
		return we
	}
	switch {
	case errors.Is(err, sfu.ErrRoomFull):
		return fatalErr(CodeRoomFull, "the room is full")
	case errors.Is(err, sfu.ErrE2EEMismatch):
		return fatalErr(CodeE2EEMismatch, "the room's end-to-end encryption setting differs from this link's")
	case errors.Is(err, sfu.ErrDuplicateID):
		return fatalErr(CodeDuplicate, "this token is already in use; fetch a new one")
	case errors.Is(err, sfu.ErrClosed):
		return fatalErr(CodeDraining, "the server is shutting down; try again in a moment")
	}
	return fatalErr(CodeInternal, "could not join the room")
}
