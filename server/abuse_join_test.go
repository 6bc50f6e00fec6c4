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
	"github.com/pion/webrtc/v4"
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
	cutOff := make([]chan string, senders) // each flooder's fatal error code
	for i := range senders {
		ws := wsJoined(t, ts, atk, attackerDialer("127.0.0.2"), room)
		cutOff[i] = make(chan string, 1)
		go func() {
			code := ""
			defer func() { cutOff[i] <- code }()
			for {
				var m signaling.Error
				if ws.ReadJSON(&m) != nil {
					return
				}
				if m.Type == signaling.TypeError && m.Fatal {
					code = m.Code
				}
			}
		}()
		for sent[i] < max && ws.WriteJSON(chat) == nil {
			sent[i]++
		}
	}
	cut := make([]string, senders)
	for i, c := range cutOff { // each ends when the server closes its socket
		select {
		case cut[i] = <-c:
		case <-time.After(10 * time.Second):
			cut[i] = "still open after 10 s"
		}
	}
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

// offerWith makes a publish offer of n sending audio sections.
func offerWith(t *testing.T, n int) string {
	t.Helper()
	pc, err := newPionAPI(t).NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	for range n {
		if _, err := pc.AddTransceiverFromKind(webrtc.RTPCodecTypeAudio, webrtc.RTPTransceiverInit{Direction: webrtc.RTPTransceiverDirectionSendonly}); err != nil {
			t.Fatal(err)
		}
	}
	o, err := pc.CreateOffer(nil)
	if err != nil {
		t.Fatal(err)
	}
	return o.SDP
}

// publishAnswer sends offer on ws and returns the answer's type and, for
// an error, its code.
func publishAnswer(t *testing.T, ws *websocket.Conn, offer string) (string, string) {
	t.Helper()
	if err := ws.WriteJSON(signaling.Offer{Type: signaling.TypeOffer, PC: signaling.PCPub, SDP: offer}); err != nil {
		t.Fatal(err)
	}
	_ = ws.SetReadDeadline(time.Now().Add(10 * time.Second))
	defer ws.SetReadDeadline(time.Time{})
	for {
		var m signaling.Error
		if err := ws.ReadJSON(&m); err != nil {
			t.Fatalf("waiting for the answer: %v", err)
		}
		if m.Type == signaling.TypeAnswer || m.Type == signaling.TypeError {
			return m.Type, m.Code
		}
	}
}

// TestAbuseManyTracks: a publisher offers hundreds of media sections, more
// tracks than one participant may have, or enough to take a room past the
// size every subscriber's offer must stay under. Each offer is refused
// before anyone else's negotiation grows, and the legitimate pair keeps
// its media.
func TestAbuseManyTracks(t *testing.T) {
	leaktest.Check(t)
	const roomCap = 12
	ts := newTestServer(t, func(c *Config) { c.SFU.MaxTracksPerRoom = roomCap })
	room, pair, took := livePair(t, ts) // 4 tracks
	atk := attackerClient("127.0.0.2")
	defer atk.CloseIdleConnections()
	type result struct{ typ, code string }
	got := map[string]result{}
	for _, tc := range []struct {
		name   string
		tracks int
	}{{"300 sections", 300}, {"40 sections", 40}, {"9 tracks", 9}, {"8 tracks", 8}, {"8 more tracks", 8}} {
		ws := wsJoined(t, ts, atk, attackerDialer("127.0.0.2"), room)
		typ, code := publishAnswer(t, ws, offerWith(t, tc.tracks))
		got[tc.name] = result{typ, code}
	}
	t.Logf("offers: %v; legitimate call with media in %v", got, took.Round(time.Millisecond))
	want := map[string]result{
		"300 sections":  {signaling.TypeError, signaling.CodeTooLarge},    // over 64 KiB: not even decoded
		"40 sections":   {signaling.TypeError, signaling.CodeNegotiation}, // refused before parsing
		"9 tracks":      {signaling.TypeError, signaling.CodeTooManyTracks},
		"8 tracks":      {signaling.TypeAnswer, ""}, // offered: the room now counts 12
		"8 more tracks": {signaling.TypeError, signaling.CodeTooManyTracks},
	}
	for name, w := range want {
		if got[name] != w {
			t.Errorf("%s: answered %+v, want %+v", name, got[name], w)
		}
	}
	waitMedia(t, pair, pair, 10, legitBound) // their negotiation goes on
	if n := refusals(t, ts, "tracks"); n != 2 {
		t.Errorf("/metrics counts %v track refusals, want 2", n)
	}
}

// TestAbuseNeverConnects: joins that take a place in a call and never
// complete ICE (the server's offer never answered) used to stay for good,
// each with its connections and goroutines. Now they are removed when
// their media has not connected within the join deadline, with a message.
func TestAbuseNeverConnects(t *testing.T) {
	leaktest.Check(t)
	// At most 8: the pair's clients buffer 8 participant-left messages.
	const joins = 6
	deadline := time.Second
	ts := newTestServer(t, func(c *Config) { c.SFU.MediaTimeout = deadline })
	room, pair, took := livePair(t, ts)
	atk := attackerClient("127.0.0.2")
	defer atk.CloseIdleConnections()
	ends := make(chan string, joins)
	for range joins {
		ws := wsJoined(t, ts, atk, attackerDialer("127.0.0.2"), room)
		go func() {
			for {
				var m signaling.Error
				if ws.ReadJSON(&m) != nil {
					ends <- ""
					return
				}
				if m.Type == signaling.TypeError && m.Fatal {
					ends <- m.Code + ": " + m.Message
					return
				}
			}
		}()
	}
	if n := ts.s.sfu.ParticipantCount(); n != 2+joins {
		t.Fatalf("%d participants, want the pair and %d idle joins", n, joins)
	}
	var removed []string
	timeout := time.After(deadline + 5*time.Second)
	for len(removed) < joins {
		select {
		case e := <-ends:
			removed = append(removed, e)
		case <-timeout:
			t.Fatalf("%d of %d joins that never connect still in the call %v after the deadline of %v", joins-len(removed), joins, 5*time.Second, deadline)
		}
	}
	t.Logf("%d idle joins removed: %q; legitimate call with media in %v", joins, removed[0], took.Round(time.Millisecond))
	for _, e := range removed {
		if !strings.HasPrefix(e, signaling.CodeClosed+": media did not connect") {
			t.Errorf("idle join ended with %q, want %s with the reason", e, signaling.CodeClosed)
		}
	}
	waitMedia(t, pair, pair, 10, legitBound)
	if n := ts.s.sfu.ParticipantCount(); n != 2 {
		t.Errorf("%d participants left, want the pair", n)
	}
	if got := refusals(t, ts, "media_timeout"); got != joins {
		t.Errorf("/metrics counts %v media time-outs, want %d", got, joins)
	}
}
