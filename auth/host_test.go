package auth

import (
	"errors"
	"testing"
)

func TestHostKey(t *testing.T) {
	a := mustIssuer(t, IssuerConfig{Secret: testSecret})
	other := mustIssuer(t, IssuerConfig{Secret: []byte("another-secret-another-secret-xx")})
	key := a.HostKey(testRoom)
	if len(key) != 43 {
		t.Fatalf("host key %d characters, want 43 (256 bits base64url)", len(key))
	}
	tests := []struct {
		name string
		room RoomCode
		key  string
		ok   bool
	}{
		{"right key", testRoom, key, true},
		{"missing", testRoom, "", false},
		{"other room", RoomCode("bcdefghjk"), key, false},
		{"other server secret", testRoom, other.HostKey(testRoom), false},
		{"one character changed", testRoom, key[:42] + string(key[42]^1), false},
		{"prefix", testRoom, key[:20], false},
		{"rejoin ticket is not a host key", testRoom, a.RejoinTicket(string(testRoom), ""), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := a.CheckHostKey(tt.room, tt.key)
			if tt.ok != (err == nil) || (err != nil && !errors.Is(err, ErrBadHostKey)) {
				t.Errorf("CheckHostKey = %v, want ok=%v", err, tt.ok)
			}
		})
	}
}

func TestRejoinTicket(t *testing.T) {
	a := mustIssuer(t, IssuerConfig{Secret: testSecret})
	tk := a.RejoinTicket("abcdefghj", "id1")
	tests := []struct {
		name, room, id, ticket string
		ok                     bool
	}{
		{"issued", "abcdefghj", "id1", tk, true},
		{"other id", "abcdefghj", "id2", tk, false},
		{"other room", "bcdefghjk", "id1", tk, false},
		{"empty id", "abcdefghj", "", a.RejoinTicket("abcdefghj", ""), false},
		{"host key is not a ticket", "abcdefghj", "id1", a.HostKey("abcdefghj"), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := a.CheckRejoinTicket(tt.room, tt.id, tt.ticket); got != tt.ok {
				t.Errorf("CheckRejoinTicket = %v, want %v", got, tt.ok)
			}
		})
	}
}
