package server

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"github.com/monkeythorn/meet/internal/leaktest"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/monkeythorn/meet/auth"
	"github.com/monkeythorn/meet/sfu"
	"github.com/monkeythorn/meet/signaling"
)

var testSecret = []byte("0123456789abcdef0123456789abcdef-server-tests")

type testServer struct {
	t      *testing.T
	s      *Server
	base   string // http://127.0.0.1:port
	client *http.Client
	issuer *auth.Issuer
}

// newTestServer runs a Server with the real SFU on 127.0.0.1 ephemeral
// ports and shuts it down when the test ends. Tests call leaktest.Check first.
func newTestServer(t *testing.T, modify func(*Config)) *testServer {
	t.Helper()
	cfg := Config{
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
		Secret: testSecret,
		SFU:    sfu.Config{ListenIP: "127.0.0.1", IncludeLoopback: true},
	}
	if modify != nil {
		modify(&cfg)
	}
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	addr, err := s.Start("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	issuer, err := auth.NewIssuer(auth.IssuerConfig{Secret: testSecret})
	if err != nil {
		t.Fatal(err)
	}
	ts := &testServer{t: t, s: s, base: "http://" + addr.String(), client: &http.Client{Transport: &http.Transport{}, Timeout: 5 * time.Second}, issuer: issuer}
	t.Cleanup(func() {
		ts.client.CloseIdleConnections()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := s.Shutdown(ctx); err != nil {
			t.Errorf("Shutdown: %v", err)
		}
	})
	return ts
}

// do sends a request and returns status, headers and body.
func (ts *testServer) do(method, path, body string, hdr map[string]string) (int, http.Header, []byte) {
	ts.t.Helper()
	req, err := http.NewRequest(method, ts.base+path, strings.NewReader(body))
	if err != nil {
		ts.t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json") // the JSON endpoints require it
	}
	for k, v := range hdr {
		if k == "Host" {
			req.Host = v
			continue
		}
		req.Header.Set(k, v)
	}
	resp, err := ts.client.Do(req)
	if err != nil {
		ts.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		ts.t.Fatal(err)
	}
	return resp.StatusCode, resp.Header, b
}

func (ts *testServer) token(room string, e2ee bool) tokenResponse {
	ts.t.Helper()
	st, _, b := ts.do("POST", "/api/token", `{"room":"`+room+`","e2ee":`+map[bool]string{true: "true", false: "false"}[e2ee]+`}`, nil)
	if st != 200 {
		ts.t.Fatalf("token: %d %s", st, b)
	}
	var tr tokenResponse
	if err := json.Unmarshal(b, &tr); err != nil {
		ts.t.Fatal(err)
	}
	return tr
}

func (ts *testServer) newRoom() string {
	ts.t.Helper()
	st, _, b := ts.do("POST", "/api/rooms", "", nil)
	var rr roomsResponse
	if st != 200 || json.Unmarshal(b, &rr) != nil {
		ts.t.Fatalf("rooms: %d %s", st, b)
	}
	return rr.Code
}

// checkJSONError requires a JSON error body with the given code.
func checkJSONError(t *testing.T, status int, hdr http.Header, body []byte, wantStatus int, wantCode string) {
	t.Helper()
	var e errorBody
	if status != wantStatus || !strings.HasPrefix(hdr.Get("Content-Type"), "application/json") ||
		json.Unmarshal(body, &e) != nil || e.Code != wantCode || e.Error == "" {
		t.Errorf("got %d %q %s, want %d with code %q", status, hdr.Get("Content-Type"), body, wantStatus, wantCode)
	}
}

func TestRooms(t *testing.T) {
	leaktest.Check(t)
	ts := newTestServer(t, nil)
	seen := map[string]bool{}
	for _, body := range []string{"", "{}", `{"e2ee":true}`, `{"e2ee":false}`} {
		st, _, b := ts.do("POST", "/api/rooms", body, nil)
		var rr roomsResponse
		if st != 200 || json.Unmarshal(b, &rr) != nil {
			t.Fatalf("POST /api/rooms %q: %d %s", body, st, b)
		}
		if _, err := auth.ParseRoomCode(rr.Code); err != nil || seen[rr.Code] {
			t.Errorf("code %q: %v (repeated %v)", rr.Code, err, seen[rr.Code])
		}
		seen[rr.Code] = true
		if rr.E2EE != (body != `{"e2ee":false}`) {
			t.Errorf("body %q: e2ee %v", body, rr.E2EE)
		}
	}
}

func TestBadRequests(t *testing.T) {
	leaktest.Check(t)
	ts := newTestServer(t, nil)
	big := `{"room":"` + strings.Repeat("a", maxBody) + `"}`
	tests := []struct {
		method, path, body string
		status             int
		code               string
	}{
		{"GET", "/api/rooms", "", 405, codeMethod},
		{"POST", "/api/rooms", "{", 400, codeBadRequest},
		{"POST", "/api/rooms", `{"e2ee":"yes"}`, 400, codeBadRequest},
		{"POST", "/api/rooms", `[]`, 400, codeBadRequest},
		{"POST", "/api/rooms", big, 413, codeTooLarge},
		{"GET", "/api/token", "", 405, codeMethod},
		{"POST", "/api/token", "", 400, codeBadRequest},
		{"POST", "/api/token", "not json", 400, codeBadRequest},
		{"POST", "/api/token", `{"room":5}`, 400, codeBadRequest},
		{"POST", "/api/token", `{"room":"abcdefghj","e2ee":1}`, 400, codeBadRequest},
		{"POST", "/api/token", `{}`, 400, codeBadRoomCode},
		{"POST", "/api/token", `{"room":"ABCDEFGHJ"}`, 400, codeBadRoomCode},
		{"POST", "/api/token", `{"room":"abc"}`, 400, codeBadRoomCode},
		{"POST", "/api/token", `{"room":"../../etc"}`, 400, codeBadRoomCode},
		{"POST", "/api/token", big, 413, codeTooLarge},
		{"POST", "/api/token", "\x00\xff\xfe", 400, codeBadRequest},
		{"DELETE", "/api/ice", "", 405, codeMethod},
		{"GET", "/api/nope", "", 404, codeNotFound},
		{"POST", "/api/", "", 404, codeNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.method+" "+tt.path+" "+tt.body[:min(len(tt.body), 20)], func(t *testing.T) {
			st, hdr, b := ts.do(tt.method, tt.path, tt.body, nil)
			checkJSONError(t, st, hdr, b, tt.status, tt.code)
			if tt.status == 405 && hdr.Get("Allow") == "" {
				t.Error("405 without Allow")
			}
		})
	}
}

func TestToken(t *testing.T) {
	leaktest.Check(t)
	ts := newTestServer(t, func(c *Config) {
		c.ICEServers = []signaling.ICEServer{{URLs: []string{"stun:stun.example.com:3478"}}}
		c.TURN = TURNConfig{URLs: []string{"turn:turn.example.com:3478"}, Secret: []byte("turn-secret")}
	})
	room := ts.newRoom()
	tests := []struct {
		name   string
		body   string
		hdr    map[string]string
		e2ee   bool
		wantWS string
	}{
		{"default e2ee", `{"room":"` + room + `"}`, nil, true, "ws://" + strings.TrimPrefix(ts.base, "http://") + "/ws"},
		{"e2ee off", `{"room":"` + room + `","e2ee":false}`, nil, false, ""},
		{"behind TLS proxy", `{"room":"` + room + `"}`, map[string]string{"X-Forwarded-Proto": "https", "Host": "meet.example.com"}, true, "wss://meet.example.com/ws"},
		{"proxy list", `{"room":"` + room + `"}`, map[string]string{"X-Forwarded-Proto": "https, http", "Host": "m.example"}, true, "wss://m.example/ws"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st, hdr, b := ts.do("POST", "/api/token", tt.body, tt.hdr)
			if st != 200 || hdr.Get("Cache-Control") != "no-store" {
				t.Fatalf("%d %v %s", st, hdr, b)
			}
			var tr tokenResponse
			if err := json.Unmarshal(b, &tr); err != nil {
				t.Fatal(err)
			}
			c, err := ts.issuer.VerifyForRoom(tr.Token, auth.RoomCode(room))
			if err != nil {
				t.Fatalf("token does not verify for its room: %v", err)
			}
			if c.E2EE != tt.e2ee || !c.Grants.Publish || !c.Grants.Subscribe {
				t.Errorf("claims %+v", c)
			}
			if tt.wantWS != "" && tr.WS != tt.wantWS {
				t.Errorf("ws %q, want %q", tr.WS, tt.wantWS)
			}
			if d := time.Until(time.UnixMilli(tr.ExpiresAt)); d <= 0 || d > auth.MaxTokenTTL {
				t.Errorf("expiresAt in %v", d)
			}
			// TURN credentials come with the welcome, to participants
			// in a call; a token is free for the asking.
			if len(tr.ICEServers) != 1 || tr.ICEServers[0].URLs[0] != "stun:stun.example.com:3478" {
				t.Fatalf("iceServers %+v", tr.ICEServers)
			}
		})
	}
}

func TestPublicURL(t *testing.T) {
	leaktest.Check(t)
	ts := newTestServer(t, func(c *Config) { c.PublicURL = "https://meet.example.com/base/" })
	tr := ts.token(ts.newRoom(), true)
	if tr.WS != "wss://meet.example.com/base/ws" {
		t.Errorf("ws %q", tr.WS)
	}
}

// forged returns tokens that must all be refused.
func forged(t *testing.T, ts *testServer, room string) map[string]string {
	t.Helper()
	good := ts.token(room, true).Token
	parts := strings.Split(good, ".")
	past, err := auth.NewIssuer(auth.IssuerConfig{Secret: testSecret, Now: func() time.Time { return time.Now().Add(-time.Hour) }})
	if err != nil {
		t.Fatal(err)
	}
	expired, _, err := past.Issue(auth.TokenRequest{Room: auth.RoomCode(room), E2EE: true})
	if err != nil {
		t.Fatal(err)
	}
	payload, _ := base64.RawURLEncoding.DecodeString(parts[1])
	tampered := parts[0] + "." + base64.RawURLEncoding.EncodeToString(bytes.Replace(payload, []byte(`"sub":true`), []byte(`"sub":false`), 1)) + "." + parts[2]
	none := base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"none","typ":"JWT"}`)) + "." + parts[1] + "."
	return map[string]string{"expired": expired, "tampered": tampered, "alg none": none, "garbage": "abc.def.ghi"}
}

func TestICEEndpoint(t *testing.T) {
	leaktest.Check(t)
	ts := newTestServer(t, func(c *Config) { c.TURN = TURNConfig{URLs: []string{"turn:127.0.0.1:3478"}} })
	room := ts.newRoom()
	st, hdr, b := ts.do("GET", "/api/ice", "", nil)
	checkJSONError(t, st, hdr, b, 401, codeUnauth)
	if hdr.Get("WWW-Authenticate") == "" {
		t.Error("401 without WWW-Authenticate")
	}
	for name, tok := range forged(t, ts, room) {
		st, hdr, b := ts.do("GET", "/api/ice", "", map[string]string{"Authorization": "Bearer " + tok})
		t.Run(name, func(t *testing.T) { checkJSONError(t, st, hdr, b, 401, codeUnauth) })
	}
	// A valid token whose participant is not in a call gets no TURN
	// credentials; once joined, it does.
	tr := ts.token(room, true)
	st, hdr, b = ts.do("GET", "/api/ice", "", map[string]string{"Authorization": "Bearer " + tr.Token})
	checkJSONError(t, st, hdr, b, 403, codeNotInCall)
	wsJoin(t, tr.WS, signaling.Join{Token: tr.Token})
	st, _, b = ts.do("GET", "/api/ice", "", map[string]string{"Authorization": "Bearer " + tr.Token})
	var ir iceResponse
	if st != 200 || json.Unmarshal(b, &ir) != nil || len(ir.ICEServers) != 1 || ir.ICEServers[0].Credential == "" {
		t.Errorf("%d %s", st, b)
	}
	pass, err := auth.TURNPassword(auth.TURNSecret(testSecret), ir.ICEServers[0].Username, time.Now())
	if err != nil || pass != ir.ICEServers[0].Credential {
		t.Errorf("TURN credentials %+v do not check out under the derived TURN secret: %v", ir.ICEServers[0], err)
	}
}

// wsJoin opens /ws, sends join and returns the connection and the first
// message.
func wsJoin(t *testing.T, wsURL string, j signaling.Join) (*websocket.Conn, map[string]any) {
	t.Helper()
	c, _, err := websocket.DefaultDialer.Dial(wsURL, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	j.Type, j.Version = signaling.TypeJoin, signaling.Version
	if err := c.WriteJSON(j); err != nil {
		t.Fatal(err)
	}
	return c, readMsg(t, c)
}

func readMsg(t *testing.T, c *websocket.Conn) map[string]any {
	t.Helper()
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	var m map[string]any
	if err := c.ReadJSON(&m); err != nil {
		t.Fatalf("read: %v", err)
	}
	return m
}

func expectWSClosed(t *testing.T, c *websocket.Conn) {
	t.Helper()
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	_, data, err := c.ReadMessage()
	var ce *websocket.CloseError
	if !errors.As(err, &ce) {
		t.Errorf("want a close frame, got %s %v", data, err)
	}
}

func TestWebSocketTokens(t *testing.T) {
	leaktest.Check(t)
	ts := newTestServer(t, nil)
	room := ts.newRoom()
	ws := ts.token(room, true).WS
	for name, tok := range forged(t, ts, room) {
		t.Run(name, func(t *testing.T) {
			c, m := wsJoin(t, ws, signaling.Join{Token: tok})
			if m["type"] != "error" || m["code"] != signaling.CodeUnauthorized || m["fatal"] != true {
				t.Errorf("got %v", m)
			}
			expectWSClosed(t, c)
		})
	}
	t.Run("wrong room", func(t *testing.T) {
		c, m := wsJoin(t, ws, signaling.Join{Token: ts.token(room, true).Token, Room: ts.newRoom()})
		if m["type"] != "error" || m["code"] != signaling.CodeUnauthorized {
			t.Errorf("got %v", m)
		}
		expectWSClosed(t, c)
	})
	t.Run("good, then a clear token gets a room of its own", func(t *testing.T) {
		_, m := wsJoin(t, ws, signaling.Join{Token: ts.token(room, true).Token, Room: room})
		if m["type"] != "welcome" || m["e2ee"] != true {
			t.Fatalf("got %v", m)
		}
		// No e2ee-mismatch: that answer would tell anyone the room is
		// live (TestAbuseRoomOracle).
		_, m = wsJoin(t, ws, signaling.Join{Token: ts.token(room, false).Token})
		if m["type"] != "welcome" || m["e2ee"] != false || len(m["participants"].([]any)) != 0 {
			t.Errorf("got %v", m)
		}
	})
	t.Run("cross-origin refused", func(t *testing.T) {
		_, resp, err := websocket.DefaultDialer.Dial(ws, http.Header{"Origin": {"https://evil.example"}})
		if err == nil || resp == nil || resp.StatusCode != 403 {
			t.Errorf("cross-origin dial: %v %v", resp, err)
		}
	})
}

func TestPages(t *testing.T) {
	leaktest.Check(t)
	ts := newTestServer(t, nil)
	st, hdr, index := ts.do("GET", "/", "", nil)
	if st != 200 || !strings.HasPrefix(hdr.Get("Content-Type"), "text/html") || !strings.Contains(hdr.Get("Content-Security-Policy"), "default-src 'self'") {
		t.Fatalf("GET /: %d %v", st, hdr)
	}
	st, _, page := ts.do("GET", "/r/"+ts.newRoom(), "", nil)
	if st != 200 || !bytes.Equal(page, index) {
		t.Errorf("GET /r/<code>: %d, same page as / = %v", st, bytes.Equal(page, index))
	}
	for _, p := range []string{"/r/NOTACODE1", "/r/abc", "/r/abcdefghj/x"} {
		if st, _, _ := ts.do("GET", p, "", nil); st != 404 {
			t.Errorf("GET %s: %d, want 404", p, st)
		}
	}
	for _, p := range []string{"/healthz", "/readyz"} {
		if st, _, b := ts.do("GET", p, "", nil); st != 200 {
			t.Errorf("GET %s: %d %s", p, st, b)
		}
	}
}

func TestShutdownDrains(t *testing.T) {
	leaktest.Check(t)
	ts := newTestServer(t, nil)
	room := ts.newRoom()
	tr := ts.token(room, true)
	c, m := wsJoin(t, tr.WS, signaling.Join{Token: tr.Token})
	if m["type"] != "welcome" {
		t.Fatalf("got %v", m)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := ts.s.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	if m := readMsg(t, c); m["type"] != signaling.TypeDrain {
		t.Errorf("got %v, want drain", m)
	}
	for { // a closed event from the SFU may come before the close frame
		_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
		if _, _, err := c.ReadMessage(); err != nil {
			break
		}
	}
	// The handler keeps answering (e.g. behind another listener) but says
	// it is draining.
	for _, tt := range []struct{ method, path, body string }{{"GET", "/readyz", ""}, {"POST", "/api/token", `{"room":"` + room + `"}`}} {
		rec := httptest.NewRecorder()
		req := httptest.NewRequest(tt.method, tt.path, strings.NewReader(tt.body))
		req.Header.Set("Content-Type", "application/json")
		ts.s.Handler().ServeHTTP(rec, req)
		checkJSONError(t, rec.Code, rec.Header(), rec.Body.Bytes(), 503, codeDraining)
	}
}

func TestTwoServers(t *testing.T) {
	leaktest.Check(t)
	a := newTestServer(t, nil)
	b := newTestServer(t, func(c *Config) { c.Secret = []byte("another-secret-another-secret-another-secret") })
	room := a.newRoom()
	trA, trB := a.token(room, true), b.token(room, false)
	if _, m := wsJoin(t, trA.WS, signaling.Join{Token: trA.Token}); m["type"] != "welcome" {
		t.Errorf("A: %v", m)
	}
	// Same room code on B is a different room: its e2ee is B's own.
	if _, m := wsJoin(t, trB.WS, signaling.Join{Token: trB.Token}); m["type"] != "welcome" || m["e2ee"] != false {
		t.Errorf("B: %v", m)
	}
	if _, m := wsJoin(t, trB.WS, signaling.Join{Token: a.token(room, false).Token}); m["code"] != signaling.CodeUnauthorized {
		t.Errorf("A's token on B: %v", m)
	}
}

func TestConfigValidation(t *testing.T) {
	leaktest.Check(t)
	tests := []struct {
		name   string
		modify func(*Config)
	}{
		{"no logger", func(c *Config) { c.Logger = nil }},
		{"short secret", func(c *Config) { c.Secret = []byte("short") }},
		{"public URL without scheme", func(c *Config) { c.PublicURL = "meet.example.com" }},
		{"public URL ftp", func(c *Config) { c.PublicURL = "ftp://meet.example.com" }},
		{"bad origin", func(c *Config) { c.AllowedOrigins = []string{"example.com"} }},
		{"negative TURN TTL", func(c *Config) { c.TURN = TURNConfig{URLs: []string{"turn:x"}, TTL: -1} }},
		{"token TTL too long", func(c *Config) { c.TokenTTL = time.Hour }},
		{"bad SFU IP", func(c *Config) { c.SFU.ListenIP = "not-an-ip" }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := Config{Logger: slog.New(slog.DiscardHandler), Secret: testSecret, SFU: sfu.Config{ListenIP: "127.0.0.1"}}
			tt.modify(&c)
			s, err := New(c)
			if err == nil {
				_ = s.Shutdown(context.Background())
				t.Fatal("accepted")
			}
		})
	}
}
