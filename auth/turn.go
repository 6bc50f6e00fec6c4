package auth

import (
	"crypto/hmac"
	"crypto/sha1" //nolint:gosec // HMAC-SHA1 is what the TURN REST scheme and every TURN client use.
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// TURNCredentials returns short-lived TURN credentials in the TURN REST API
// scheme coturn implements (use-auth-secret): username "<unix expiry>:<id>",
// password base64(HMAC-SHA1(secret, username)). The TURN server needs only
// the shared secret to check them, so no credential store exists anywhere.
func TURNCredentials(secret []byte, id string, ttl time.Duration, now time.Time) (username, password string) {
	username = strconv.FormatInt(now.Add(ttl).Unix(), 10) + ":" + id
	return username, turnMAC(secret, username)
}

// TURNPassword returns the password that belongs to username, for a TURN
// server's auth handler to compare with. It fails with ErrTURNMalformed when
// username is not "<unix expiry>:<id>" and ErrTURNExpired when the expiry has
// passed at now.
func TURNPassword(secret []byte, username string, now time.Time) (string, error) {
	_, exp, err := TURNUser(username)
	if err != nil {
		return "", err
	}
	if now.Unix() > exp.Unix() {
		return "", fmt.Errorf("%w: %s ago", ErrTURNExpired, now.Sub(exp).Round(time.Second))
	}
	return turnMAC(secret, username), nil
}

// TURNUser reads a TURN REST username without judging it: the participant
// id and the expiry. A TURN server that lets a participant still in the
// call refresh its allocation past the expiry needs both (turnserver).
func TURNUser(username string) (id string, expiry time.Time, err error) {
	ts, id, ok := strings.Cut(username, ":")
	if !ok || id == "" {
		return "", time.Time{}, fmt.Errorf("%w: want \"<unix expiry>:<id>\"", ErrTURNMalformed)
	}
	// ParseInt alone would accept "+1" or "-1"; only plain digits are ours.
	if ts == "" || len(ts) > 19 || strings.Trim(ts, "0123456789") != "" {
		return "", time.Time{}, fmt.Errorf("%w: expiry is not a unix time", ErrTURNMalformed)
	}
	exp, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return "", time.Time{}, fmt.Errorf("%w: expiry: %v", ErrTURNMalformed, err)
	}
	return id, time.Unix(exp, 0), nil
}

// TURNMAC is the password of username under secret, expired or not.
func TURNMAC(secret []byte, username string) string { return turnMAC(secret, username) }

// turnLabel separates the TURN secret from the token secret it is derived
// from: a TURN server that leaks its secret (a shared coturn, a log) must
// not hand out the key that signs join tokens.
const turnLabel = "monkeythorn-meet turn-rest v1"

// TURNSecret derives the TURN REST secret from the server secret:
// HMAC-SHA256(secret, label).
func TURNSecret(secret []byte) []byte {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(turnLabel))
	return m.Sum(nil)
}

func turnMAC(secret []byte, username string) string {
	m := hmac.New(sha1.New, secret)
	m.Write([]byte(username))
	return base64.StdEncoding.EncodeToString(m.Sum(nil))
}
