package billing

import (
	"crypto/sha256"
	"encoding/hex"
	"log/slog"
	"regexp"
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

// Errors from Stripe and SMTP can quote what we sent: a request URL with
// ?customer=cus_..., "No such customer: 'cus_...'", or a mail server's
// "<ada@example.com> rejected". scrub removes those before logging.
var (
	scrubCustomer = regexp.MustCompile(`cus_[A-Za-z0-9]+`)
	scrubEmail    = regexp.MustCompile(`[^\s<>"'(),;:]+@[^\s<>"'(),;:]+`)
	scrubQuery    = regexp.MustCompile(`\?[^\s"']*`)
)

func scrub(s string) string {
	s = scrubQuery.ReplaceAllString(s, "?[redacted]")
	s = scrubCustomer.ReplaceAllString(s, "cus_[redacted]")
	return scrubEmail.ReplaceAllString(s, "[email]")
}

// logErr is an error as logged: scrubbed of customer ids, addresses and
// query strings.
type logErr struct{ err error }

// LogValue implements slog.LogValuer.
func (e logErr) LogValue() slog.Value {
	if e.err == nil {
		return slog.StringValue("")
	}
	return slog.StringValue(scrub(e.err.Error()))
}
