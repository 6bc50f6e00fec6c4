package server

import (
	"encoding/json"
	"testing"

	"github.com/monkeythorn/meet/auth"
)

// newHostedRoom creates a room and returns its code and host key.
func (ts *testServer) newHostedRoom() (string, string) {
	ts.t.Helper()
	st, _, b := ts.do("POST", "/api/rooms", "{}", nil)
	var rr roomsResponse
	if st != 200 || json.Unmarshal(b, &rr) != nil || rr.HostKey == "" {
		ts.t.Fatalf("rooms: %d %s", st, b)
	}
	return rr.Code, rr.HostKey
}

// TestHostKeyToken: the host key of a room, and only that, makes a host
// token; a wrong one is refused rather than silently ignored.
func TestHostKeyToken(t *testing.T) {
	checkLeaks(t)
	ts := newTestServer(t, nil)
	room, key := ts.newHostedRoom()
	other, otherKey := ts.newHostedRoom()
	if key == otherKey {
		t.Fatal("two rooms got the same host key")
	}
	tests := []struct {
		name     string
		body     string
		status   int
		wantHost bool
	}{
		{"no key: a guest", `{"room":"` + room + `"}`, 200, false},
		{"empty key: a guest", `{"room":"` + room + `","hostKey":""}`, 200, false},
		{"right key: a host", `{"room":"` + room + `","hostKey":"` + key + `"}`, 200, true},
		{"another room's key", `{"room":"` + room + `","hostKey":"` + otherKey + `"}`, 403, false},
		{"a made-up key", `{"room":"` + room + `","hostKey":"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"}`, 403, false},
		{"the key of this room for that room", `{"room":"` + other + `","hostKey":"` + key + `"}`, 403, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st, hdr, b := ts.do("POST", "/api/token", tt.body, nil)
			if tt.status != 200 {
				checkJSONError(t, st, hdr, b, tt.status, codeBadHostKey)
				return
			}
			var tr tokenResponse
			if st != 200 || json.Unmarshal(b, &tr) != nil {
				t.Fatalf("%d %s", st, b)
			}
			c, err := ts.issuer.Verify(tr.Token)
			if err != nil {
				t.Fatal(err)
			}
			if c.Grants.Host != tt.wantHost {
				t.Errorf("host grant %v, want %v", c.Grants.Host, tt.wantHost)
			}
		})
	}
	// The key is derived from the server secret: any node of a cluster
	// (same secret) recognises it, with nothing stored.
	if err := ts.issuer.CheckHostKey(auth.RoomCode(room), key); err != nil {
		t.Errorf("an issuer with the same secret refuses the key: %v", err)
	}
}
