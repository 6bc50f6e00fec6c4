package signaling

import (
	"encoding/json"
	"github.com/monkeythorn/meet/internal/poll"
	"strings"
	"testing"
	"time"

	"github.com/monkeythorn/meet/auth"
)

// hostToken is a token with the host grant (what /api/token issues for the
// room's host key).
func (hs *harness) hostToken(room auth.RoomCode) string {
	hs.t.Helper()
	tok, _, err := hs.issuer.Issue(auth.TokenRequest{Room: room, E2EE: true, Grants: auth.Grants{Publish: true, Subscribe: true, Host: true}})
	if err != nil {
		hs.t.Fatal(err)
	}
	return tok
}

// enter sends j on a new connection and returns the client and its welcome.
func (hs *harness) enter(j Join) (*wsClient, Welcome) {
	hs.t.Helper()
	c := hs.dial()
	j.Type, j.Version = TypeJoin, Version
	c.send(j)
	var w Welcome
	c.until(TypeWelcome, &w)
	return c, w
}

// refused sends j on a new connection and requires a fatal error with code.
func (hs *harness) refused(j Join, code string) Error {
	hs.t.Helper()
	c := hs.dial()
	j.Type, j.Version = TypeJoin, Version
	c.send(j)
	return c.fatalUntilClose(code)
}

// until reads messages until one of type typ arrives (at most 20 others
// before it) and decodes it into v.
func (c *wsClient) until(typ string, v any) {
	c.t.Helper()
	for range 20 {
		f := c.next()
		if f.err != nil {
			c.t.Fatalf("want %q, connection ended: %v", typ, f.err)
		}
		if f.typ == typ {
			if v != nil {
				if err := json.Unmarshal(f.data, v); err != nil {
					c.t.Fatal(err)
				}
			}
			return
		}
	}
	c.t.Fatalf("no %q among 20 messages", typ)
}

// fatalUntilClose requires a fatal error with code, then the close.
func (c *wsClient) fatalUntilClose(code string) Error {
	c.t.Helper()
	var e Error
	c.until(TypeError, &e)
	if e.Code != code || !e.Fatal || e.Message == "" {
		c.t.Fatalf("got %+v, want fatal %q", e, code)
	}
	c.expectClosed()
	return e
}

// leave sends leave and reads until the server closes.
func (c *wsClient) leave() {
	c.t.Helper()
	c.send(Leave{Type: TypeLeave})
	for range 20 {
		if f := c.next(); f.err != nil {
			return
		}
	}
	c.t.Fatal("not closed after leave")
}

// untilError reads until an error message and requires its code.
func (c *wsClient) untilError(code string) {
	c.t.Helper()
	var e Error
	c.until(TypeError, &e)
	if e.Code != code || e.Fatal {
		c.t.Fatalf("got %+v, want non-fatal %q", e, code)
	}
}

// untilState reads room-state messages until one satisfies ok.
func (c *wsClient) untilState(what string, ok func(RoomState) bool) RoomState {
	c.t.Helper()
	for range 10 {
		var st RoomState
		c.until(TypeRoomState, &st)
		if ok(st) {
			return st
		}
	}
	c.t.Fatalf("no room-state with %s", what)
	return RoomState{}
}

func TestHostKeyAndFirstIn(t *testing.T) {
	hs := newHarness(t, nil)
	room := newRoom(t)
	// Ann joins first without the key: a meeting with people in it always
	// has a host. Hank joins with the host key and is a host as well.
	ann, wa := hs.enter(Join{Token: hs.token(room, true, true)})
	if wa.Meeting == nil || len(wa.Meeting.Hosts) != 1 || wa.Meeting.Hosts[0] != wa.ID || wa.Rejoin == "" {
		t.Fatalf("first welcome %+v, want Ann host and a rejoin ticket", wa)
	}
	_, wh := hs.enter(Join{Token: hs.hostToken(room)})
	var st RoomState
	ann.until(TypeRoomState, &st)
	if len(wh.Meeting.Hosts) != 2 || len(st.Hosts) != 2 || st.Hosts[1] != wh.ID {
		t.Fatalf("hosts %v / %v, want Ann and Hank", wh.Meeting.Hosts, st.Hosts)
	}
	// Without the key, a third is no host.
	_, wb := hs.enter(Join{Token: hs.token(room, true, true)})
	if len(wb.Meeting.Hosts) != 2 || wb.Lobby != nil {
		t.Errorf("Bob's welcome %+v, want two hosts and no lobby list", wb.Meeting)
	}
}

func TestNonHostActionsRefused(t *testing.T) {
	hs := newHarness(t, nil)
	room := newRoom(t)
	_, wh := hs.enter(Join{Token: hs.hostToken(room)})
	bob, wb := hs.enter(Join{Token: hs.token(room, true, true)})
	for i, m := range []any{
		Remove{Type: TypeRemove, ID: wh.ID}, SetLock{Type: TypeSetLock, Locked: true}, SetLobby{Type: TypeSetLobby, Enabled: true},
		Admit{Type: TypeAdmit, ID: "x"}, Deny{Type: TypeDeny, ID: "x"}, MakeHost{Type: TypeMakeHost, ID: wb.ID}, AskMute{Type: TypeAskMute},
	} {
		bob.send(m)
		bob.untilError(CodeNotHost)
		bob.send(Ping{Type: TypePing, T: int64(i)}) // keeps the bad-message count from ending the session
		var p Pong
		bob.until(TypePong, &p)
	}
	if hs.conf.count() != 2 {
		t.Errorf("%d in the room, want both still there", hs.conf.count())
	}
}

func TestRemove(t *testing.T) {
	hs := newHarness(t, nil)
	room := newRoom(t)
	hank, wh := hs.enter(Join{Token: hs.hostToken(room)})
	ann, _ := hs.enter(Join{Token: hs.token(room, true, true)})
	bobTok := hs.token(room, true, true)
	bob, wb := hs.enter(Join{Token: bobTok})

	hank.send(Remove{Type: TypeRemove, ID: wh.ID})
	hank.untilError(CodeBadMessage)
	hank.send(Remove{Type: TypeRemove, ID: "nobody"})
	hank.untilError(CodeNoParticipant)

	// Bob gets a fatal "removed" and is closed; the others see who, then
	// his leave; his token and id are refused for the rest of the meeting,
	// even with his rejoin ticket.
	hank.send(Remove{Type: TypeRemove, ID: wb.ID})
	if e := bob.fatalUntilClose(CodeRemoved); e.Message != MsgRemoved {
		t.Errorf("message %q", e.Message)
	}
	var rm ParticipantRemoved
	ann.until(TypeRemoved, &rm)
	if rm.ID != wb.ID || rm.By != wh.ID {
		t.Errorf("removed %+v, want Bob by Hank", rm)
	}
	ann.until(TypeLeft, nil)
	poll.Until(t, 5*time.Second, "Bob out of the SFU", func() bool { return hs.conf.count() == 2 })
	hs.refused(Join{Token: bobTok}, CodeRemoved)
	hs.refused(Join{Token: hs.token(room, true, true), RejoinID: wb.ID, RejoinTicket: wb.Rejoin}, CodeRemoved)
}

func TestLockAndRejoin(t *testing.T) {
	hs := newHarness(t, nil)
	room := newRoom(t)
	hank, wh := hs.enter(Join{Token: hs.hostToken(room)})
	ann, wa := hs.enter(Join{Token: hs.token(room, true, true)})
	hank.send(SetLock{Type: TypeSetLock, Locked: true})
	var st RoomState
	ann.until(TypeRoomState, &st)
	if !st.Locked {
		t.Fatalf("state %+v, want locked", st)
	}
	// A newcomer is refused with the documented message.
	if e := hs.refused(Join{Token: hs.token(room, true, true)}, CodeLocked); e.Message != MsgLocked {
		t.Errorf("message %q", e.Message)
	}
	// A ticket of another id does not open the lock.
	hs.refused(Join{Token: hs.token(room, true, true), RejoinID: wa.ID, RejoinTicket: wh.Rejoin}, CodeLocked)
	// Ann's connection drops; with her ticket she comes back in.
	ann.leave()
	ann2, _ := hs.enter(Join{Token: hs.token(room, true, true), RejoinID: wa.ID, RejoinTicket: wa.Rejoin})
	// The host key opens it too.
	hs.enter(Join{Token: hs.hostToken(room)})
	hank.send(SetLock{Type: TypeSetLock, Locked: false})
	ann2.untilState("unlocked", func(st RoomState) bool { return !st.Locked })
	hs.enter(Join{Token: hs.token(room, true, true)})
}

func TestLobby(t *testing.T) {
	hs := newHarness(t, nil)
	room := newRoom(t)
	hank, _ := hs.enter(Join{Token: hs.hostToken(room)})
	hank.send(SetLobby{Type: TypeSetLobby, Enabled: true})
	var st RoomState
	hank.until(TypeRoomState, &st)
	if !st.Lobby {
		t.Fatal("lobby not on")
	}

	// Cy waits; the host sees his sealed name and admits him.
	cy := hs.dial()
	cy.send(Join{Type: TypeJoin, Version: Version, Token: hs.token(room, true, true), Profile: "sealed-cy"})
	cy.expect(TypeWaiting, nil)
	var list LobbyList
	hank.until(TypeLobbyList, &list)
	if len(list.Waiting) != 1 || list.Waiting[0].Profile != "sealed-cy" {
		t.Fatalf("lobby %+v, want Cy's sealed name", list)
	}
	cyID := list.Waiting[0].ID
	// While waiting, nothing but join, leave and ping.
	cy.send(Chat{Type: TypeChat, Data: "x"})
	cy.expectError(CodeNotJoined, false)
	cy.send(Join{Type: TypeJoin, Version: Version, Token: "ignored", Profile: "sealed-cy"})
	cy.expect(TypeWaiting, nil)
	if hs.conf.count() != 1 {
		t.Fatal("a waiting newcomer is in the SFU")
	}
	hank.send(Admit{Type: TypeAdmit, ID: cyID})
	cy.expect(TypeAdmitted, nil)
	hank.until(TypeLobbyList, &list)
	if len(list.Waiting) != 0 {
		t.Errorf("lobby %+v after admitting, want empty", list)
	}
	cy.send(Join{Type: TypeJoin, Version: Version, Token: "ignored", Profile: "sealed-cy"})
	var w Welcome
	cy.until(TypeWelcome, &w)
	if w.ID != cyID || hs.conf.count() != 2 {
		t.Fatalf("welcome %+v, %d in the room", w, hs.conf.count())
	}
	var joined ParticipantJoined
	hank.until(TypeJoined, &joined)
	if joined.Participant.Profile != "sealed-cy" {
		t.Errorf("Cy joined as %+v", joined.Participant)
	}

	// A sealed name too long for the lobby list is left out of it.
	big := hs.dial()
	big.send(Join{Type: TypeJoin, Version: Version, Token: hs.token(room, true, true), Profile: strings.Repeat("x", MaxLobbyProfile+1)})
	big.expect(TypeWaiting, nil)
	hank.until(TypeLobbyList, &list)
	if len(list.Waiting) != 1 || list.Waiting[0].Profile != "" {
		t.Errorf("lobby %+v, want one entry without the oversized profile", list)
	}
	big.leave()
	hank.until(TypeLobbyList, &list)

	// Dee is denied: a clear message, and her id stays refused.
	deeTok := hs.token(room, true, true)
	dee := hs.dial()
	dee.send(Join{Type: TypeJoin, Version: Version, Token: deeTok})
	dee.expect(TypeWaiting, nil)
	hank.until(TypeLobbyList, &list)
	hank.send(Deny{Type: TypeDeny, ID: list.Waiting[0].ID})
	if e := dee.fatalUntilClose(CodeDenied); e.Message != MsgDenied {
		t.Errorf("message %q", e.Message)
	}
	hank.until(TypeLobbyList, &list)
	hs.refused(Join{Token: deeTok}, CodeRemoved)

	// Eve gives up waiting: the hosts' list empties. Fay waits and gets in
	// when the lobby is turned off.
	eve := hs.dial()
	eve.send(Join{Type: TypeJoin, Version: Version, Token: hs.token(room, true, true)})
	eve.expect(TypeWaiting, nil)
	hank.until(TypeLobbyList, &list)
	eve.leave()
	hank.until(TypeLobbyList, &list)
	if len(list.Waiting) != 0 {
		t.Errorf("lobby %+v after Eve left, want empty", list)
	}
	fay := hs.dial()
	fay.send(Join{Type: TypeJoin, Version: Version, Token: hs.token(room, true, true)})
	fay.expect(TypeWaiting, nil)
	hank.send(SetLobby{Type: TypeSetLobby, Enabled: false})
	fay.expect(TypeAdmitted, nil)
	fay.send(Join{Type: TypeJoin, Version: Version, Token: "ignored"})
	fay.until(TypeWelcome, nil)

	// Everyone leaves while Gus waits: the meeting and its rules end, and
	// he is told so rather than left waiting for nobody.
	hank.send(SetLobby{Type: TypeSetLobby, Enabled: true})
	hank.untilState("lobby on", func(st RoomState) bool { return st.Lobby })
	gus := hs.dial()
	gus.send(Join{Type: TypeJoin, Version: Version, Token: hs.token(room, true, true)})
	gus.expect(TypeWaiting, nil)
	for _, c := range []*wsClient{cy, fay, hank} {
		c.leave()
	}
	if e := gus.fatalUntilClose(CodeClosed); e.Message != MsgEnded {
		t.Errorf("message %q", e.Message)
	}
	poll.Until(t, 5*time.Second, "meeting state dropped", func() bool { return hs.h.meetingCount() == 0 })
}

func TestHandOverAndHostLeaves(t *testing.T) {
	hs := newHarness(t, nil)
	room := newRoom(t)
	hank, wh := hs.enter(Join{Token: hs.hostToken(room)})
	ann, wa := hs.enter(Join{Token: hs.token(room, true, true)})
	bob, wb := hs.enter(Join{Token: hs.token(room, true, true)})

	// Hand-over: Ann becomes host in Hank's place.
	hank.send(MakeHost{Type: TypeMakeHost, ID: wa.ID})
	var st RoomState
	bob.until(TypeRoomState, &st)
	if len(st.Hosts) != 1 || st.Hosts[0] != wa.ID {
		t.Fatalf("hosts %v, want Ann only", st.Hosts)
	}
	hank.send(SetLock{Type: TypeSetLock, Locked: true})
	hank.untilError(CodeNotHost)

	// Ann, the only host, leaves: Hank, present longest, becomes host.
	ann.leave()
	bob.untilState("Hank (present longest) host after the host left", func(st RoomState) bool { return len(st.Hosts) == 1 && st.Hosts[0] == wh.ID })
	hank.leave()
	bob.untilState("Bob host", func(st RoomState) bool { return len(st.Hosts) == 1 && st.Hosts[0] == wb.ID })
	// The last one out drops the meeting's state.
	bob.leave()
	poll.Until(t, 5*time.Second, "meeting state dropped", func() bool { return hs.h.meetingCount() == 0 })
}

// TestConcurrentHostsReachEveryone: hosts joining at once each end up
// knowing every host, from their welcome or a room-state after it. A
// joiner not yet listed among the joined when another's host change is
// broadcast would miss it for good.
func TestConcurrentHostsReachEveryone(t *testing.T) {
	const n = 4 // the fake conference's room size
	for range 25 {
		hs := newHarness(t, nil)
		room := newRoom(t)
		cs := make([]*wsClient, n)
		for i := range cs {
			cs[i] = hs.dial()
		}
		for _, c := range cs {
			c.send(Join{Type: TypeJoin, Version: Version, Token: hs.hostToken(room)})
		}
		for i, c := range cs {
			var w Welcome
			c.until(TypeWelcome, &w)
			hosts := len(w.Meeting.Hosts)
			for m := 0; hosts < n; m++ {
				if m == 2*n {
					t.Fatalf("client %d: knows %d hosts after %d room-states, want %d", i, hosts, m, n)
				}
				var st RoomState
				c.until(TypeRoomState, &st)
				hosts = len(st.Hosts)
			}
		}
	}
}
