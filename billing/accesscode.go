package billing

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base32"
	"fmt"
	"strings"
)

// Access codes are self-contained so that no database is needed:
//
//	payload = version (1) | len(plan) (1) | plan | customer
//	code    = crockford-base32(payload | HMAC-SHA256(key, payload)[:16])
//
// shown in groups of five separated by '-'. The 128-bit tag is the
// unguessable part; the customer id inside it is what Stripe is asked about.
// Version 1 drops the "cus_" prefix every Stripe customer id has, version 2
// keeps the id verbatim (for ids without it), which keeps typical codes at
// 56 characters.
const (
	codeVersionCusPrefix = 1
	codeVersionVerbatim  = 2
	codeTagLen           = 16
	codeGroupLen         = 5
	maxCustomerIDLen     = 64
	stripeCustomerPrefix = "cus_"
	codeKeyLabel         = "monkeythorn-meet billing access-code v1"
	minCodeSecretLen     = 16
)

// crockford is Crockford's base32 alphabet: no I, L, O or U, so a code read
// aloud or retyped survives the usual confusions (see normalizeCode).
var crockford = base32.NewEncoding("0123456789ABCDEFGHJKMNPQRSTVWXYZ").WithPadding(base32.NoPadding)

// codeSigner issues and verifies access codes. It holds a key derived from
// the server's CodeSecret so that the same secret can serve other purposes
// (JWT signing) without the two MACs ever being interchangeable.
type codeSigner struct{ key []byte }

func newCodeSigner(codeSecret []byte) codeSigner {
	m := hmac.New(sha256.New, codeSecret)
	m.Write([]byte(codeKeyLabel))
	return codeSigner{key: m.Sum(nil)}
}

func (s codeSigner) tag(payload []byte) []byte {
	m := hmac.New(sha256.New, s.key)
	m.Write(payload)
	return m.Sum(nil)[:codeTagLen]
}

// issue returns the access code for a customer and plan. The result is
// deterministic, so a webhook retried by Stripe mails the same code.
func (s codeSigner) issue(customer, planID string) (string, error) {
	if customer == "" || len(customer) > maxCustomerIDLen {
		return "", fmt.Errorf("billing: customer id length %d out of range", len(customer))
	}
	if planID == "" || len(planID) > maxPlanIDLen {
		return "", fmt.Errorf("billing: plan id length %d out of range", len(planID))
	}
	version, cust := byte(codeVersionVerbatim), customer
	if rest, ok := strings.CutPrefix(customer, stripeCustomerPrefix); ok && rest != "" {
		version, cust = codeVersionCusPrefix, rest
	}
	payload := make([]byte, 0, 2+len(planID)+len(cust)+codeTagLen)
	payload = append(payload, version, byte(len(planID)))
	payload = append(payload, planID...)
	payload = append(payload, cust...)
	payload = append(payload, s.tag(payload)...)
	return groupCode(crockford.EncodeToString(payload)), nil
}

// verify checks a code and returns the customer id and plan id it carries.
// Any failure is ErrBadAccessCode: callers need not learn which part was
// wrong, and an attacker should not either.
func (s codeSigner) verify(code string) (customer, planID string, err error) {
	raw, decErr := crockford.DecodeString(normalizeCode(code))
	if decErr != nil || len(raw) < 2+1+1+codeTagLen {
		return "", "", ErrBadAccessCode
	}
	payload, tag := raw[:len(raw)-codeTagLen], raw[len(raw)-codeTagLen:]
	if !hmac.Equal(tag, s.tag(payload)) {
		return "", "", ErrBadAccessCode
	}
	version, planLen := payload[0], int(payload[1])
	if planLen == 0 || 2+planLen >= len(payload) {
		return "", "", ErrBadAccessCode
	}
	planID, cust := string(payload[2:2+planLen]), string(payload[2+planLen:])
	switch version {
	case codeVersionCusPrefix:
		return stripeCustomerPrefix + cust, planID, nil
	case codeVersionVerbatim:
		return cust, planID, nil
	}
	return "", "", ErrBadAccessCode
}

// normalizeCode accepts what people paste: lower case, spaces, dashes, and
// the letters Crockford maps to digits.
func normalizeCode(code string) string {
	var b strings.Builder
	b.Grow(len(code))
	for _, r := range strings.ToUpper(code) {
		switch r {
		case '-', ' ', '\t', '\n', '\r':
			continue
		case 'O':
			r = '0'
		case 'I', 'L':
			r = '1'
		}
		b.WriteRune(r)
	}
	return b.String()
}

func groupCode(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i += codeGroupLen {
		if i > 0 {
			b.WriteByte('-')
		}
		b.WriteString(s[i:min(i+codeGroupLen, len(s))])
	}
	return b.String()
}
