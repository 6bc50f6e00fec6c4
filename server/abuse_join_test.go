package server

import (
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/monkeythorn/meet/internal/leaktest"
	"github.com/monkeythorn/meet/signaling"
)

// probe joins room from the attacker's address with a token whose E2EE
// flag is e2ee, and returns the first answer's type, code and number of
// participants.
func probe(t *testing.T, ts *testServer, room string, e2ee bool) (typ, code string, participants int) {
	t.Helper()
	atk := attackerClient("127.0.0.2")
	defer atk.CloseIdleConnections()
	tr := (&testServer{t: t, s: ts.s, base: ts.base, client: atk, issuer: ts.issuer}).token(room, e2ee)
	c, _, err := attackerDialer("127.0.0.2").Dial(tr.WS, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.WriteJSON(signaling.Join{Type: signaling.TypeJoin, Version: signaling.Version, Token: tr.Token}); err != nil {
		t.Fatal(err)
	}
	var m struct {
		Type, Code   string
		Participants []signaling.ParticipantInfo
	}
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	if err := c.ReadJSON(&m); err != nil {
		t.Fatal(err)
	}
	_ = c.WriteMessage(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, ""))
	return m.Type, m.Code, len(m.Participants)
}

// TestAbuseRoomOracle: someone who has a room code but not the key probes
// it with a token of the other E2EE setting. A live room used to answer
// e2ee-mismatch and an empty one welcome, so the probe learned silently
// whether a meeting was going on. Now both answer an empty welcome (the
// probe lands in a room of its own), and the call does not see it.
func TestAbuseRoomOracle(t *testing.T) {
	leaktest.Check(t)
	ts := newTestServer(t, nil)
	live, pair, took := livePair(t, ts)

	lt, lc, ln := probe(t, ts, live, false)
	et, ec, en := probe(t, ts, ts.newRoom(), false)
	t.Logf("probe of a live room: %s %s (%d participants); of an empty room: %s %s (%d); legitimate call with media in %v",
		lt, lc, ln, et, ec, en, took.Round(time.Millisecond))
	if lt != et || lc != ec || ln != en {
		t.Errorf("a live room answers the probe %q %q (%d participants), an empty one %q %q (%d): an oracle", lt, lc, ln, et, ec, en)
	}
	waitMedia(t, pair, pair, 10, legitBound) // the call goes on
	if n := ts.s.sfu.ParticipantCount(); n != 2 {
		t.Errorf("%d participants after the probes left, want the pair", n)
	}
	for _, c := range pair {
		c.checkErrors(t)
	}
}

// wsJoined opens a WebSocket from dialer d, joins room and reads the
// welcome.
func wsJoined(t *testing.T, ts *testServer, c *http.Client, d *websocket.Dialer, room string) *websocket.Conn {
	t.Helper()
	tr := (&testServer{t: t, s: ts.s, base: ts.base, client: c, issuer: ts.issuer}).token(room, true)
	ws, _, err := d.Dial(tr.WS, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ws.Close() })
	if err := ws.WriteJSON(signaling.Join{Type: signaling.TypeJoin, Version: signaling.Version, Token: tr.Token}); err != nil {
		t.Fatal(err)
	}
	var w signaling.Welcome
	_ = ws.SetReadDeadline(time.Now().Add(5 * time.Second))
	if err := ws.ReadJSON(&w); err != nil || w.Type != signaling.TypeWelcome {
		t.Fatalf("welcome: %+v %v", w, err)
	}
	_ = ws.SetReadDeadline(time.Time{})
	return ws
}

// TestAbuseChatFlood: five connections in one room send chat as fast as
// they may. Each sender has its share: a flooder is cut off, and a slow but
// honest receiver (50 messages a second) keeps its call, losing chat at
// worst; it used to be disconnected as too slow.
func TestAbuseChatFlood(t *testing.T) {
	leaktest.Check(t)
	ts := newTestServer(t, nil)
	room, pair, took := livePair(t, ts)

	victim := wsJoined(t, ts, ts.client, websocket.DefaultDialer, room)
	victimEnd := make(chan error, 1)
	go func() {
		for {
			var m signaling.Error
			if err := victim.ReadJSON(&m); err != nil {
				victimEnd <- err
				return
			}
			if m.Type == signaling.TypePong {
				victimEnd <- nil
				return
			}
			time.Sleep(20 * time.Millisecond) // a slow but honest reader
		}
	}()
	atk := attackerClient("127.0.0.2")
	defer atk.CloseIdleConnections()
	chat := signaling.Chat{Type: signaling.TypeChat, Data: strings.Repeat("x", 8<<10)}
	const senders, max = 5, 300
	sent := make([]int, senders)
	cut := make([]string, senders)
	for i := range senders {
		ws := wsJoined(t, ts, atk, attackerDialer("127.0.0.2"), room)
		go func() {
			for {
				var m signaling.Error
				if ws.ReadJSON(&m) != nil {
					return
				}
				if m.Type == signaling.TypeError && m.Fatal {
					cut[i] = m.Code
				}
			}
		}()
		for sent[i] < max && ws.WriteJSON(chat) == nil {
			sent[i]++
		}
	}
	time.Sleep(500 * time.Millisecond) // the last cut-off errors arrive
	if err := victim.WriteJSON(signaling.Ping{Type: signaling.TypePing, T: 1}); err != nil {
		t.Fatalf("victim: %v", err)
	}
	var verr error
	select {
	case verr = <-victimEnd:
	case <-time.After(20 * time.Second):
		verr = errors.New("no pong within 20 s")
	}
	st := ts.s.sig.Stats()
	t.Logf("5 senders wrote %v chat messages of 8 KiB; cut off with %q; chat floods %d, chat dropped for slow receivers %d, slow clients %d; legitimate call with media in %v",
		sent, cut, st.ChatFloods, st.ChatDropped, st.SlowClients, took.Round(time.Millisecond))
	if verr != nil || st.SlowClients != 0 {
		t.Errorf("the slow receiver lost its session during the flood: %v (slow clients %d)", verr, st.SlowClients)
	}
	for i, c := range cut {
		if c != signaling.CodeTooManyErrors {
			t.Errorf("flooder %d (%d messages sent) was not cut off: %q", i, sent[i], c)
		}
	}
	waitMedia(t, pair, pair, 10, legitBound)
	if got := refusals(t, ts, "chat"); got < senders {
		t.Errorf("/metrics counts %v chat floods, want %d", got, senders)
	}
}
