package server

import (
	"encoding/json"
	"github.com/monkeythorn/meet/internal/leaktest"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/monkeythorn/meet/billing"
	"github.com/monkeythorn/meet/signaling"
)

// wsPeer is a participant without media: enough to hold a seat in a room.
type wsPeer struct {
	t  *testing.T
	ws *websocket.Conn
}

// wsSeat joins room over /ws with a token for it (a paid one when code is
// set) and returns the peer and the first message's type and error code.
func wsSeat(t *testing.T, bs *billingServer, room, code string) (*wsPeer, string, string) {
	t.Helper()
	var tr tokenResponse
	if st, b := bs.postJSON(t, "/api/token", map[string]any{"room": room, "accessCode": code}, nil, &tr); st != http.StatusOK {
		t.Fatalf("token: %d %s", st, b)
	}
	ws, _, err := websocket.DefaultDialer.Dial(tr.WS, nil)
	if err != nil {
		t.Fatal(err)
	}
	p := &wsPeer{t: t, ws: ws}
	t.Cleanup(p.close)
	_ = ws.SetWriteDeadline(time.Now().Add(5 * time.Second))
	if err := ws.WriteJSON(signaling.Join{Type: signaling.TypeJoin, Version: signaling.Version, Token: tr.Token, Room: room}); err != nil {
		t.Fatal(err)
	}
	var m signaling.Error
	_ = ws.SetReadDeadline(time.Now().Add(5 * time.Second))
	if err := ws.ReadJSON(&m); err != nil {
		t.Fatalf("first message: %v", err)
	}
	return p, m.Type, m.Code
}

// waitError reads until a fatal error message arrives and the server
// closes the connection; it returns the error.
func (p *wsPeer) waitError(timeout time.Duration) (signaling.Error, bool) {
	_ = p.ws.SetReadDeadline(time.Now().Add(timeout))
	var last signaling.Error
	got := false
	for {
		_, data, err := p.ws.ReadMessage()
		if err != nil {
			// Closed by the server after the error: what we wait for.
			return last, got && !isNetTimeout(err)
		}
		var m signaling.Error
		if json.Unmarshal(data, &m) == nil && m.Type == signaling.TypeError {
			last, got = m, true
		}
	}
}

func isNetTimeout(err error) bool {
	ne, ok := err.(interface{ Timeout() bool })
	return ok && ne.Timeout()
}

func (p *wsPeer) close() { _ = p.ws.Close() }

func limitedPlans(w *billingWorld, free, pro billing.Plan) func(*Config) {
	return func(c *Config) {
		plans := w.plans()
		plans[0].MaxParticipants, plans[0].MaxDuration = free.MaxParticipants, free.MaxDuration
		plans[1].MaxParticipants, plans[1].MaxDuration = pro.MaxParticipants, pro.MaxDuration
		c.Billing.Plans = plans
	}
}

// TestRoomPlanLimits: each room takes the participant cap of the plan it
// was opened with, for its whole life: a paid token does not lift a free
// room's cap, free guests fill a paid room up to the paid cap, and only
// the paid room's connection time is recorded, for its customer.
func TestRoomPlanLimits(t *testing.T) {
	leaktest.Check(t)
	w := newBillingWorld(t)
	bs := w.server(t, testSecret, limitedPlans(w, billing.Plan{MaxParticipants: 2}, billing.Plan{MaxParticipants: 3}))
	code, _ := bs.s.billing.svc.IssueAccessCode(w.fx.Customer, "pro")

	free := bs.newRoom()
	steps := []struct {
		name, room, code, wantType, wantCode string
	}{
		{"free room opened without code", free, "", signaling.TypeWelcome, ""},
		{"paid token joins the free room", free, code, signaling.TypeWelcome, ""},
		{"free cap of 2 holds for a paid token", free, code, signaling.TypeError, signaling.CodeRoomFull},
	}
	paid := bs.newRoom()
	steps = append(steps, []struct {
		name, room, code, wantType, wantCode string
	}{
		{"paid room opened with code", paid, code, signaling.TypeWelcome, ""},
		{"guest 1", paid, "", signaling.TypeWelcome, ""},
		{"guest 2: past the free cap", paid, "", signaling.TypeWelcome, ""},
		{"guest 3: past the paid cap of 3", paid, "", signaling.TypeError, signaling.CodeRoomFull},
	}...)
	var peers []*wsPeer
	for _, s := range steps {
		p, typ, errCode := wsSeat(t, bs, s.room, s.code)
		if typ != s.wantType || errCode != s.wantCode {
			t.Fatalf("%s: got %s %q, want %s %q", s.name, typ, errCode, s.wantType, s.wantCode)
		}
		peers = append(peers, p)
	}
	if n := bs.s.sfu.RoomCount(); n != 2 {
		t.Errorf("%d rooms hosted, want 2", n)
	}
	w.clock.Advance(3 * time.Minute)
	for _, p := range peers {
		p.close()
	}
	bs.waitRooms(t, 0)
	if err := bs.shutdown(); err != nil {
		t.Fatal(err)
	}
	calls := bs.usage.all()
	if len(calls) != 3 {
		t.Fatalf("usage recorded %+v, want 3 (the paid room's participants only)", calls)
	}
	for _, c := range calls {
		if c.customer != w.fx.Customer || c.d != 3*time.Minute {
			t.Errorf("usage %+v, want 3m for the paid room's customer", c)
		}
	}
	recs := w.rec.Requests("usage_records")
	if len(recs) != 1 || recs[0].Form.Get("quantity") != "9" {
		t.Errorf("usage records %+v, want one of 9 minutes", recs)
	}
}

// TestMeetingLengthLimit: at the free plan's length the meeting ends for
// everyone with a message saying why, the room is forgotten, nothing is
// metered, and joining again starts a new meeting.
func TestMeetingLengthLimit(t *testing.T) {
	leaktest.Check(t)
	w := newBillingWorld(t)
	const limit = 1500 * time.Millisecond
	bs := w.server(t, testSecret, limitedPlans(w, billing.Plan{MaxDuration: limit}, billing.Plan{}))
	room := bs.newRoom()
	start := time.Now()
	a, typ, _ := wsSeat(t, bs, room, "")
	b, typ2, _ := wsSeat(t, bs, room, "")
	if typ != signaling.TypeWelcome || typ2 != signaling.TypeWelcome {
		t.Fatalf("joins: %s %s", typ, typ2)
	}
	for i, p := range []*wsPeer{a, b} {
		e, ok := p.waitError(10 * time.Second)
		if !ok || e.Code != signaling.CodeClosed || !e.Fatal || !strings.Contains(e.Message, "limit of the Free plan") || !strings.Contains(e.Message, "access code") {
			t.Errorf("peer %d: got %+v (closed by server: %v), want a fatal closed error about the Free plan's limit", i, e, ok)
		}
	}
	if el := time.Since(start); el < limit {
		t.Errorf("meeting ended after %v, before its %v limit", el, limit)
	}
	bs.waitRooms(t, 0)

	c, typ, _ := wsSeat(t, bs, room, "")
	if typ != signaling.TypeWelcome {
		t.Fatalf("join after the end: %s, want a new meeting", typ)
	}
	c.close()
	bs.waitRooms(t, 0)
	if calls := bs.usage.all(); len(calls) != 0 {
		t.Errorf("free meeting recorded usage: %+v", calls)
	}
}

func TestLengthText(t *testing.T) {
	for _, tt := range []struct {
		d    time.Duration
		want string
	}{
		{60 * time.Minute, "60-minute"},
		{2 * time.Hour, "2-hour"},
		{8 * time.Hour, "8-hour"},
		{90 * time.Minute, "90-minute"},
		{45 * time.Minute, "45-minute"},
		{1500 * time.Millisecond, "1.5s length"},
	} {
		if got := lengthText(tt.d); got != tt.want {
			t.Errorf("lengthText(%v) = %q, want %q", tt.d, got, tt.want)
		}
	}
}
