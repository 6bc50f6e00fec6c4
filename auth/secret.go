package auth

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"log/slog"
)

// Secret is key material that redacts itself in logs.
type Secret []byte

// LogValue hides the secret.
func (Secret) LogValue() slog.Value { return slog.StringValue("[redacted]") }

// String hides the secret from fmt too.
func (Secret) String() string { return "[redacted]" }

// SecretFingerprint returns a short keyed hash of secret (HMAC-SHA256 with
// the secret as key over a fixed label, first 16 bytes in hex). Nodes of a
// cluster publish it to detect a node started with a different secret
// without revealing the secret. The fixed label keeps the value distinct from
// anything else derived from the same secret, such as token signatures.
func SecretFingerprint(secret []byte) string {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte("meet-cluster-fingerprint"))
	return hex.EncodeToString(m.Sum(nil)[:16])
}
