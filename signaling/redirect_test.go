package signaling

import (
	"errors"
	"strings"
	"testing"

	"github.com/gorilla/websocket"
)

// refusingConf answers every Join with err, as the server's cluster wrapper
// does for a room hosted elsewhere or a Redis outage.
type refusingConf struct{ err error }

func (c refusingConf) Join(string, JoinRequest) (Participant, error) { return nil, c.err }

func TestJoinRefusedByPlacement(t *testing.T) {
	cause := errors.New("dial tcp 10.0.0.5:6379: connection refused")
	tests := []struct {
		name      string
		err       error
		wantType  string
		wantCode  string // error code, for errors
		wantURL   string // redirect URL, for redirects
		wantClose int
	}{
		{"redirect", &RedirectError{URL: "wss://node2.example.com/ws"}, TypeRedirect, "", "wss://node2.example.com/ws", websocket.CloseNormalClosure},
		{"wrapped redirect", errorsJoin(&RedirectError{URL: "ws://127.0.0.1:9/ws"}), TypeRedirect, "", "ws://127.0.0.1:9/ws", websocket.CloseNormalClosure},
		{"unavailable", &UnavailableError{Message: "new meetings cannot start right now; try again in a minute", Err: cause}, TypeError, CodeUnavailable, "", websocket.CloseTryAgainLater},
		{"other error stays internal", cause, TypeError, CodeInternal, "", websocket.CloseInternalServerErr},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			hs := newHarness(t, func(c *Config) { c.Conference = refusingConf{tt.err} })
			c := hs.dial()
			c.send(Join{Type: TypeJoin, Version: Version, Token: hs.token(newRoom(t), true, true)})
			switch tt.wantType {
			case TypeRedirect:
				var r Redirect
				c.expect(TypeRedirect, &r)
				if r.URL != tt.wantURL {
					t.Errorf("redirect URL %q, want %q", r.URL, tt.wantURL)
				}
			default:
				e := c.expectError(tt.wantCode, true)
				if strings.Contains(e.Message, "10.0.0.5") {
					t.Errorf("error message leaks the cause: %q", e.Message)
				}
			}
			if code := c.expectClosed(); code != tt.wantClose {
				t.Errorf("close code %d, want %d", code, tt.wantClose)
			}
		})
	}
}

func errorsJoin(err error) error { return errors.Join(errors.New("placement"), err) }

// TestRedirectJoinedSession: a participant already in a room is sent to
// another node (the room was lost to it) with a redirect, then closed.
func TestRedirectJoinedSession(t *testing.T) {
	hs := newHarness(t, nil)
	room := newRoom(t)
	c, w := hs.join(room, "")
	p := hs.conf.part(w.ID)
	if !RedirectListener(p.l, "wss://node3.example.com/ws") {
		t.Fatal("RedirectListener refused the handler's own listener")
	}
	var r Redirect
	c.expect(TypeRedirect, &r)
	if r.URL != "wss://node3.example.com/ws" {
		t.Errorf("redirect URL %q", r.URL)
	}
	if code := c.expectClosed(); code != websocket.CloseNormalClosure {
		t.Errorf("close code %d, want %d", code, websocket.CloseNormalClosure)
	}
	waitFor(t, "participant closed", func() bool {
		select {
		case <-p.Done():
			return true
		default:
			return false
		}
	})
	if RedirectListener(nil, "wss://x/ws") {
		t.Error("RedirectListener accepted a listener that is not a session")
	}
}

func TestSignalingURL(t *testing.T) {
	tests := []struct{ in, want string }{
		{"https://node1.meet.example.com", "wss://node1.meet.example.com/ws"},
		{"http://127.0.0.1:8080", "ws://127.0.0.1:8080/ws"},
		{"https://example.com/meet/", "wss://example.com/meet/ws"},
		{"https://user:pw@example.com?x=1#y", "wss://example.com/ws"},
		{"ftp://example.com", ""},
		{"/relative", ""},
	}
	for _, tt := range tests {
		got, err := SignalingURL(tt.in)
		if tt.want == "" {
			if err == nil {
				t.Errorf("SignalingURL(%q) = %q, want an error", tt.in, got)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("SignalingURL(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
		}
	}
}
