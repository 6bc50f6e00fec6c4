package billing

import (
	"crypto/sha256"
	"encoding/hex"
	"log/slog"
)

// secret is a string that must never appear in logs: access codes, e-mail
// addresses, SMTP passwords.
type secret string

// LogValue implements slog.LogValuer.
func (secret) LogValue() slog.Value { return slog.StringValue("[redacted]") }

// customerRef is a Stripe customer id. It is pseudonymous, but it links a
// log line to a paying person in the Stripe dashboard, so logs get a short
// fingerprint instead: enough to correlate lines of one incident, not enough
// to look the customer up.
type customerRef string

// LogValue implements slog.LogValuer.
func (c customerRef) LogValue() slog.Value {
	if c == "" {
		return slog.StringValue("")
	}
	sum := sha256.Sum256([]byte("meet-billing-customer:" + string(c)))
	return slog.StringValue("cust#" + hex.EncodeToString(sum[:4]))
}
