package signaling

import (
	"errors"
	"github.com/monkeythorn/meet/internal/poll"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/monkeythorn/meet/sfu"
)

// TestJoinRefusedByCheck: a check before the join refuses it as the
// server's cluster placement does for a room hosted elsewhere or a Redis
// outage, or as a membership rule does with its own code.
func TestJoinRefusedByCheck(t *testing.T) {
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
		{"refused", &RefusedError{Code: "locked", Message: "the meeting is locked"}, TypeError, "locked", "", websocket.ClosePolicyViolation},
		{"unavailable", &UnavailableError{Message: "new meetings cannot start right now; try again in a minute", Err: cause}, TypeError, CodeUnavailable, "", websocket.CloseTryAgainLater},
		{"other error stays internal", cause, TypeError, CodeInternal, "", websocket.CloseInternalServerErr},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			refuse := func(string, *JoinRequest) error { return tt.err }
			hs := newHarness(t, func(c *Config) { c.Checks = []JoinCheck{refuse} })
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

// TestChecksFillTheRequest: checks run in order on the verified claims
// and what they fill in reaches the Conference.
func TestChecksFillTheRequest(t *testing.T) {
	var mu sync.Mutex // the checks run on the session's goroutine
	var order []string
	first := func(room string, req *JoinRequest) error {
		mu.Lock()
		defer mu.Unlock()
		order = append(order, "first")
		if req.Claims == nil || req.Claims.Room != room || req.Claims.Subject != req.ID {
			t.Errorf("check saw claims %+v for room %q, id %q", req.Claims, room, req.ID)
		}
		req.Terms.MaxParticipants = 7
		return nil
	}
	second := func(_ string, req *JoinRequest) error {
		mu.Lock()
		defer mu.Unlock()
		order = append(order, "second")
		req.Terms.Payer = "cus_1"
		return nil
	}
	hs := newHarness(t, func(c *Config) { c.Checks = []JoinCheck{first, second} })
	_, w := hs.join(newRoom(t), "")
	p := hs.conf.part(w.ID)
	if p.req.Terms.MaxParticipants != 7 || p.req.Terms.Payer != "cus_1" || p.req.Requested.IsZero() {
		t.Errorf("the Conference got %+v", p.req)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(order) != 2 || order[0] != "first" {
		t.Errorf("checks ran %v", order)
	}
}

// TestRedirectJoinedSession: a participant already in a room is sent to
// another node (the room was lost to it) with a redirect, then closed.
func TestRedirectJoinedSession(t *testing.T) {
	hs := newHarness(t, nil)
	room := newRoom(t)
	c, w := hs.join(room, "")
	p := hs.conf.part(w.ID)
	p.deliver(func(l sfu.Listener) { l.Event(&sfu.Closed{MovedTo: "wss://node3.example.com/ws"}) })
	var r Redirect
	c.expect(TypeRedirect, &r)
	if r.URL != "wss://node3.example.com/ws" {
		t.Errorf("redirect URL %q", r.URL)
	}
	if code := c.expectClosed(); code != websocket.CloseNormalClosure {
		t.Errorf("close code %d, want %d", code, websocket.CloseNormalClosure)
	}
	poll.Until(t, 5*time.Second, "participant closed", func() bool {
		select {
		case <-p.Done():
			return true
		default:
			return false
		}
	})
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
