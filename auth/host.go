package auth

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
)

// Host keys and rejoin tickets are HMACs of the server secret over a label
// and the values they are bound to, so every node of a cluster can check
// them and nothing has to be stored: a meeting exists only in memory while
// people are in it, and its host key still works when the creator comes
// back to a meeting that has not started yet.
const (
	hostKeyLabel = "meet host key v1\x00"
	rejoinLabel  = "meet rejoin ticket v1\x00"
)

// HostKey is the host secret of room: whoever presents it when asking for a
// join token becomes a host of that meeting. POST /api/rooms hands it to
// the creator only; it is never part of the invite link.
func (i *Issuer) HostKey(room RoomCode) string {
	return i.mac(hostKeyLabel + string(room))
}

// CheckHostKey reports whether key is room's host key; a mismatch wraps
// ErrBadHostKey. The comparison takes the same time whatever the key.
func (i *Issuer) CheckHostKey(room RoomCode, key string) error {
	if !hmac.Equal([]byte(key), []byte(i.HostKey(room))) {
		return fmt.Errorf("%w", ErrBadHostKey)
	}
	return nil
}

// RejoinTicket is handed to participant id of room when it is let in. A
// client that lost its connection presents it with a fresh token to come
// back past a lock or lobby it was already admitted through, as long as
// id was not removed.
func (i *Issuer) RejoinTicket(room, id string) string {
	return i.mac(rejoinLabel + room + "\x00" + id)
}

// CheckRejoinTicket reports whether ticket was issued to id in room.
func (i *Issuer) CheckRejoinTicket(room, id, ticket string) bool {
	return id != "" && hmac.Equal([]byte(ticket), []byte(i.RejoinTicket(room, id)))
}

func (i *Issuer) mac(msg string) string {
	m := hmac.New(sha256.New, i.secret)
	m.Write([]byte(msg))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}
