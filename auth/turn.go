package auth

import (
	"crypto/hmac"
	"crypto/sha1" //nolint:gosec // HMAC-SHA1 is what the TURN REST scheme and every TURN client use.
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
	ts, id, ok := strings.Cut(username, ":")
	if !ok || id == "" {
		return "", fmt.Errorf("%w: want \"<unix expiry>:<id>\"", ErrTURNMalformed)
	}
	// ParseInt alone would accept "+1" or "-1"; only plain digits are ours.
	if ts == "" || len(ts) > 19 || strings.Trim(ts, "0123456789") != "" {
		return "", fmt.Errorf("%w: expiry is not a unix time", ErrTURNMalformed)
	}
	exp, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return "", fmt.Errorf("%w: expiry: %v", ErrTURNMalformed, err)
	}
	if now.Unix() > exp {
		return "", fmt.Errorf("%w: %s ago", ErrTURNExpired, now.Sub(time.Unix(exp, 0)).Round(time.Second))
	}
	return turnMAC(secret, username), nil
}

func turnMAC(secret []byte, username string) string {
	m := hmac.New(sha1.New, secret)
	m.Write([]byte(username))
	return base64.StdEncoding.EncodeToString(m.Sum(nil))
}
