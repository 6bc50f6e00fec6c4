package auth

import (
	"crypto/rand"
	"encoding/base64"
)

// NewParticipantID returns 128 random bits as unpadded base64url (22
// characters). Ids are random rather than counters so that one participant's
// id says nothing about another's, and so nodes never have to coordinate.
func NewParticipantID() string {
	var b [16]byte
	// crypto/rand.Read never returns an error since Go 1.24 (it crashes the
	// program instead of handing out predictable bytes).
	_, _ = rand.Read(b[:])
	return base64.RawURLEncoding.EncodeToString(b[:])
}
