package signaling

import (
	"context"
	"encoding/json"
	"github.com/monkeythorn/meet/internal/leaktest"
	"github.com/monkeythorn/meet/internal/logbuf"
	"io"
	"log/slog"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/monkeythorn/meet/auth"
)

var testSecret = []byte("0123456789abcdef0123456789abcdef-signaling-tests")

// harness runs a Handler with a fake SFU on an httptest server (127.0.0.1).
type harness struct {
	t      *testing.T
	conf   *fakeConf
	h      *Handler
	url    string
	issuer *auth.Issuer
	logs   *logbuf.Buffer
}

func newHarness(t *testing.T, modify func(*Config)) *harness {
	t.Helper()
	leaktest.Check(t)
	issuer, err := auth.NewIssuer(auth.IssuerConfig{Secret: testSecret})
	if err != nil {
		t.Fatal(err)
	}
	hs := &harness{t: t, conf: newFakeConf(4), issuer: issuer, logs: &logbuf.Buffer{}}
	cfg := Config{
		Logger:     slog.New(slog.NewTextHandler(hs.logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		Conference: hs.conf,
		Verifier:   issuer,
		Tickets:    issuer,
		ICEServers: func(string) []ICEServer { return []ICEServer{{URLs: []string{"stun:127.0.0.1:3478"}}} },
	}
	if modify != nil {
		modify(&cfg)
	}
	hs.h, err = NewHandler(cfg)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(hs.h)
	hs.url = "ws" + strings.TrimPrefix(srv.URL, "http")
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := hs.h.Close(ctx); err != nil {
			t.Errorf("Handler.Close: %v", err)
		}
		srv.Close()
	})
	return hs
}

func (hs *harness) token(room auth.RoomCode, e2ee, publish bool) string {
	hs.t.Helper()
	tok, _, err := hs.issuer.Issue(auth.TokenRequest{Room: room, E2EE: e2ee, Grants: auth.Grants{Publish: publish, Subscribe: true}})
	if err != nil {
		hs.t.Fatal(err)
	}
	return tok
}

func newRoom(t *testing.T) auth.RoomCode {
	t.Helper()
	c, err := auth.NewRoomCode()
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// wsClient is a test client. A background goroutine reads (and so answers
// pings) unless the client was made with dialRaw.
type wsClient struct {
	t  *testing.T
	c  *websocket.Conn
	in chan frame
}

type frame struct {
	typ  string
	data []byte
	err  error
}

func (hs *harness) dialRaw() *wsClient {
	hs.t.Helper()
	c, _, err := websocket.DefaultDialer.Dial(hs.url, nil)
	if err != nil {
		hs.t.Fatalf("dial: %v", err)
	}
	hs.t.Cleanup(func() { c.Close() })
	return &wsClient{t: hs.t, c: c}
}

func (hs *harness) dial() *wsClient {
	hs.t.Helper()
	cl := hs.dialRaw()
	cl.in = make(chan frame, 1024)
	go func() {
		defer close(cl.in)
		for {
			_, data, err := cl.c.ReadMessage()
			if err != nil {
				cl.in <- frame{err: err}
				return
			}
			var env Envelope
			_ = json.Unmarshal(data, &env)
			cl.in <- frame{typ: env.Type, data: data}
		}
	}()
	return cl
}

func (c *wsClient) send(v any) {
	c.t.Helper()
	var b []byte
	switch v := v.(type) {
	case string:
		b = []byte(v)
	default:
		var err error
		if b, err = json.Marshal(v); err != nil {
			c.t.Fatal(err)
		}
	}
	if err := c.c.WriteMessage(websocket.TextMessage, b); err != nil {
		c.t.Fatalf("write: %v", err)
	}
}

func (c *wsClient) next() frame {
	c.t.Helper()
	select {
	case f, ok := <-c.in:
		if !ok {
			return frame{err: websocket.ErrCloseSent}
		}
		return f
	case <-time.After(5 * time.Second):
		c.t.Fatal("no message within 5 s")
	}
	return frame{}
}

// expect reads the next message, requires its type and decodes it into v.
func (c *wsClient) expect(typ string, v any) {
	c.t.Helper()
	f := c.next()
	if f.err != nil {
		c.t.Fatalf("want %q, connection ended: %v", typ, f.err)
	}
	if f.typ != typ {
		c.t.Fatalf("want %q, got %s", typ, f.data)
	}
	if v != nil {
		if err := json.Unmarshal(f.data, v); err != nil {
			c.t.Fatalf("decoding %s: %v", f.data, err)
		}
	}
}

func (c *wsClient) expectError(code string, fatal bool) Error {
	c.t.Helper()
	var e Error
	c.expect(TypeError, &e)
	if e.Code != code || e.Fatal != fatal || e.Message == "" {
		c.t.Fatalf("got error %+v, want code %q fatal %v", e, code, fatal)
	}
	return e
}

// expectClosed requires that the server closes the connection next and
// returns the close code.
func (c *wsClient) expectClosed() int {
	c.t.Helper()
	f := c.next()
	if f.err == nil {
		c.t.Fatalf("want close, got %s", f.data)
	}
	if ce, ok := f.err.(*websocket.CloseError); ok {
		return ce.Code
	}
	return 0
}

func (hs *harness) join(room auth.RoomCode, profile string) (*wsClient, Welcome) {
	hs.t.Helper()
	c := hs.dial()
	c.send(Join{Type: TypeJoin, Version: Version, Token: hs.token(room, true, true), Profile: profile})
	var w Welcome
	c.expect(TypeWelcome, &w)
	return c, w
}

func testLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }
