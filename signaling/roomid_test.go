package signaling

import "testing"

// TestClearJoinGetsItsOwnRoom: a join whose E2EE flag differs from a live
// room's is not refused (an answer only a live room gives): it lands in a
// room of its own, empty, and the encrypted room hears nothing of it.
func TestClearJoinGetsItsOwnRoom(t *testing.T) {
	hs := newHarness(t, nil)
	room := newRoom(t)
	first, _ := hs.join(room, "")
	c := hs.dial()
	c.send(Join{Type: TypeJoin, Version: Version, Token: hs.token(room, false, true)})
	var w Welcome
	c.expect(TypeWelcome, &w)
	if w.E2EE || len(w.Participants) != 0 {
		t.Errorf("clear join of a live encrypted room: welcome %+v, want an empty clear room", w)
	}
	first.send(Ping{Type: TypePing, T: 7})
	var p Pong
	first.expect(TypePong, &p) // and no participant-joined before it
	if RoomID("abc", true) == RoomID("abc", false) {
		t.Error("one room id for both kinds of meeting")
	}
}
