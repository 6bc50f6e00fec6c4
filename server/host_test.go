package server

import (
	"encoding/json"
	"errors"
	"github.com/monkeythorn/meet/internal/leaktest"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/monkeythorn/meet/auth"
	"github.com/monkeythorn/meet/cluster/clustertest"
	"github.com/monkeythorn/meet/signaling"
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
	leaktest.Check(t)
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

// readType reads from ws until a message of type typ (at most 30) and
// decodes it into v.
func readType(t *testing.T, ws *websocket.Conn, typ string, v any) {
	t.Helper()
	_ = ws.SetReadDeadline(time.Now().Add(5 * time.Second))
	for range 30 {
		_, data, err := ws.ReadMessage()
		if err != nil {
			t.Fatalf("want %q: %v", typ, err)
		}
		var env signaling.Envelope
		if json.Unmarshal(data, &env) == nil && env.Type == typ {
			if err := json.Unmarshal(data, v); err != nil {
				t.Fatal(err)
			}
			return
		}
	}
	t.Fatalf("no %q in 30 messages", typ)
}

// TestClusterHostRules: in a cluster the host rules live on the node that
// hosts the room. A host key from any node makes a host there; a lock set
// there refuses a newcomer who knocks at another node (redirected first,
// then refused by the room's node); a non-host is refused wherever it
// joined through.
func TestClusterHostRules(t *testing.T) {
	leaktest.Check(t)
	rds := clustertest.StartRedis(t)
	nodes := startCluster(t, rds, 2)
	st, b := nodes[1].post("/api/rooms", "{}")
	var rr roomsResponse
	if st != 200 || json.Unmarshal(b, &rr) != nil {
		t.Fatalf("rooms: %d %s", st, b)
	}
	room := rr.Code
	// The host's token comes from node 1, the room's placement decides
	// where the join ends.
	st, b = nodes[0].post("/api/token", `{"room":"`+room+`","hostKey":"`+rr.HostKey+`"}`)
	var ht tokenResponse
	if st != 200 || json.Unmarshal(b, &ht) != nil {
		t.Fatalf("host token from another node: %d %s", st, b)
	}
	hostWS, hw, at, err := dialJoin(nodes[0].ws, ht.Token, room)
	if err != nil {
		t.Fatal(err)
	}
	defer hostWS.Close()
	if hw.Meeting == nil || len(hw.Meeting.Hosts) != 1 || hw.Meeting.Hosts[0] != hw.ID {
		t.Fatalf("host's welcome %+v, want it host", hw.Meeting)
	}
	var other *clusterNodeT
	for _, n := range nodes {
		if n.ws != at {
			other = n
		}
	}
	if other == nil {
		t.Fatalf("no node besides the room's (%s)", at)
	}

	// A guest through the other node: redirected to the room's node, no host.
	guestWS, gw, gat, err := dialJoin(other.ws, other.token(room).Token, room)
	if err != nil || gat != at {
		t.Fatalf("guest via the other node: %v, ended at %s, want %s", err, gat, at)
	}
	defer guestWS.Close()
	if len(gw.Meeting.Hosts) != 1 || gw.Meeting.Hosts[0] != hw.ID {
		t.Errorf("guest sees hosts %v", gw.Meeting.Hosts)
	}
	_ = guestWS.WriteJSON(signaling.SetLock{Type: signaling.TypeSetLock, Locked: true})
	var e signaling.Error
	readType(t, guestWS, signaling.TypeError, &e)
	if e.Code != signaling.CodeNotHost {
		t.Errorf("guest's lock: %+v, want not-host", e)
	}

	// The host locks; a newcomer knocking at the other node is redirected
	// to the room's node and refused there.
	_ = hostWS.WriteJSON(signaling.SetLock{Type: signaling.TypeSetLock, Locked: true})
	var rs signaling.RoomState
	readType(t, guestWS, signaling.TypeRoomState, &rs)
	if !rs.Locked {
		t.Fatalf("room state %+v, want locked", rs)
	}
	_, _, _, err = dialJoin(other.ws, other.token(room).Token, room)
	if !errors.Is(err, errJoinRefused) || !strings.Contains(err.Error(), `"code":"locked"`) {
		t.Errorf("newcomer via the other node: %v, want refused as locked", err)
	}
	// The host key still opens it, from either node.
	st, b = other.post("/api/token", `{"room":"`+room+`","hostKey":"`+rr.HostKey+`"}`)
	if st != 200 || json.Unmarshal(b, &ht) != nil {
		t.Fatalf("second host token: %d %s", st, b)
	}
	h2, w2, _, err := dialJoin(other.ws, ht.Token, room)
	if err != nil || len(w2.Meeting.Hosts) != 2 {
		t.Fatalf("host key past the lock: %v %+v", err, w2.Meeting)
	}
	h2.Close()
}
