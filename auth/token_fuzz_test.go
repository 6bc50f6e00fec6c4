package auth

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"testing"
	"time"
)

// checkVerify is what must hold for any token, forged or ours: no panic,
// every refusal wraps one of the documented sentinels, and an accepted
// token has a participant, a valid room code, an issuer and audience of
// ours and an expiry in the future.
func checkVerify(t *testing.T, iss *Issuer, tok string) {
	t.Helper()
	c, err := iss.Verify(tok)
	if err != nil {
		if c != nil {
			t.Fatalf("claims returned with error %v", err)
		}
		if !errors.Is(err, ErrTokenMalformed) && !errors.Is(err, ErrTokenExpired) && !errors.Is(err, ErrTokenInvalid) {
			t.Fatalf("error %v wraps no sentinel", err)
		}
		return
	}
	if c.Subject == "" {
		t.Fatalf("accepted %q without a participant id", tok)
	}
	if _, err := ParseRoomCode(c.Room); err != nil {
		t.Fatalf("accepted %q with room %q: %v", tok, c.Room, err)
	}
	if c.Issuer != DefaultIssuer || len(c.Audience) == 0 {
		t.Fatalf("accepted %q with iss %q aud %v", tok, c.Issuer, c.Audience)
	}
	if c.ExpiresAt == nil || !c.ExpiresAt.Add(leeway).After(testT0) {
		t.Fatalf("accepted %q expired or without exp: %v", tok, c.ExpiresAt)
	}
}

// FuzzVerifyToken feeds arbitrary strings to Verify, as a client may send
// any token. Seeds (testdata/fuzz/FuzzVerifyToken) include a valid token,
// alg none, RS256 and truncated forms.
func FuzzVerifyToken(f *testing.F) {
	iss := mustIssuer(f, IssuerConfig{Secret: testSecret, Now: func() time.Time { return testT0 }})
	tok, _, err := iss.Issue(TokenRequest{Room: testRoom, Grants: Grants{Publish: true, Subscribe: true}})
	if err != nil {
		f.Fatal(err)
	}
	f.Add(tok)
	f.Fuzz(func(t *testing.T, tok string) {
		checkVerify(t, iss, tok)
	})
}

// FuzzVerifySignedClaims signs arbitrary header and payload JSON with the
// server's own key, which reaches the claim checks a forger never gets
// past: what the server accepts must still be a sound join token.
func FuzzVerifySignedClaims(f *testing.F) {
	iss := mustIssuer(f, IssuerConfig{Secret: testSecret, Now: func() time.Time { return testT0 }})
	payload, err := json.Marshal(validClaims())
	if err != nil {
		f.Fatal(err)
	}
	f.Add([]byte(`{"alg":"HS256","typ":"JWT"}`), payload)
	f.Fuzz(func(t *testing.T, header, payload []byte) {
		enc := base64.RawURLEncoding
		signing := enc.EncodeToString(header) + "." + enc.EncodeToString(payload)
		m := hmac.New(sha256.New, testSecret)
		m.Write([]byte(signing))
		tok := signing + "." + enc.EncodeToString(m.Sum(nil))
		checkVerify(t, iss, tok)
	})
}
