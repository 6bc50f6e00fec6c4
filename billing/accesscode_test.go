package billing

import (
	"errors"
	"strings"
	"testing"
)

func TestAccessCodeRoundTrip(t *testing.T) {
	s := newCodeSigner(testCodeSecret)
	tests := []struct {
		name, customer, plan string
	}{
		{"stripe id", "cus_Nj5B57LZqvnaIg", "pro"},
		{"no cus_ prefix", "customer-42", "team"},
		{"bare prefix", "cus_", "pro"},
		{"long plan", "cus_A", strings.Repeat("p", maxPlanIDLen)},
		{"long customer", "cus_" + strings.Repeat("x", maxCustomerIDLen-4), "pro"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, err := s.issue(tc.customer, tc.plan)
			if err != nil {
				t.Fatalf("issue: %v", err)
			}
			again, _ := s.issue(tc.customer, tc.plan)
			if again != code {
				t.Fatalf("issue is not deterministic: %q then %q", code, again)
			}
			for _, g := range strings.Split(code, "-") {
				if len(g) == 0 || len(g) > codeGroupLen {
					t.Fatalf("code %q has a group of %d chars", code, len(g))
				}
			}
			cust, plan, err := s.verify(code)
			if err != nil || cust != tc.customer || plan != tc.plan {
				t.Fatalf("verify(%q) = %q, %q, %v; want %q, %q", code, cust, plan, err, tc.customer, tc.plan)
			}
		})
	}
}

func TestAccessCodeStripeIDLength(t *testing.T) {
	code, err := newCodeSigner(testCodeSecret).issue("cus_Nj5B57LZqvnaIg", "pro")
	if err != nil {
		t.Fatal(err)
	}
	// 2 + 3 + 14 + 16 bytes = 35 bytes = 56 base32 chars, in 12 groups.
	if n := len(normalizeCode(code)); n != 56 {
		t.Fatalf("typical code has %d chars, want 56: %s", n, code)
	}
}

func TestAccessCodeAcceptsWhatPeoplePaste(t *testing.T) {
	s := newCodeSigner(testCodeSecret)
	code, _ := s.issue("cus_Nj5B57LZqvnaIg", "pro")
	swap := strings.NewReplacer("0", "O", "1", "l")
	variants := map[string]string{
		"lower case":        strings.ToLower(code),
		"spaces not dashes": strings.ReplaceAll(code, "-", " "),
		"no separators":     strings.ReplaceAll(code, "-", ""),
		"surrounding space": "  " + code + "\n",
		"O for 0, l for 1":  swap.Replace(code),
	}
	for name, v := range variants {
		t.Run(name, func(t *testing.T) {
			if _, _, err := s.verify(v); err != nil {
				t.Fatalf("verify(%q): %v", v, err)
			}
		})
	}
}

func TestAccessCodeRejects(t *testing.T) {
	s := newCodeSigner(testCodeSecret)
	code, _ := s.issue("cus_Nj5B57LZqvnaIg", "pro")
	flat := normalizeCode(code)
	flip := func(i int) string {
		b := []byte(flat)
		if b[i] == 'A' {
			b[i] = 'B'
		} else {
			b[i] = 'A'
		}
		return string(b)
	}
	other, _ := newCodeSigner([]byte("another-secret-of-16+bytes")).issue("cus_Nj5B57LZqvnaIg", "pro")
	tests := map[string]string{
		"empty":              "",
		"garbage":            "hello-world",
		"not base32":         strings.Repeat("U", 56),
		"truncated":          flat[:len(flat)-5],
		"extended":           flat + "AAAAA",
		"first char flipped": flip(0),
		"plan char flipped":  flip(4),
		"last char flipped":  flip(len(flat) - 1),
		"other secret":       other,
		"tag only":           flat[len(flat)-26:],
	}
	for name, c := range tests {
		t.Run(name, func(t *testing.T) {
			if _, _, err := s.verify(c); !errors.Is(err, ErrBadAccessCode) {
				t.Fatalf("verify(%q) err = %v, want ErrBadAccessCode", c, err)
			}
		})
	}
}

func TestAccessCodeIssueLimits(t *testing.T) {
	s := newCodeSigner(testCodeSecret)
	for _, tc := range []struct{ customer, plan string }{
		{"", "pro"},
		{"cus_x", ""},
		{strings.Repeat("c", maxCustomerIDLen+1), "pro"},
		{"cus_x", strings.Repeat("p", maxPlanIDLen+1)},
	} {
		if _, err := s.issue(tc.customer, tc.plan); err == nil {
			t.Errorf("issue(%d-byte customer, %d-byte plan) succeeded", len(tc.customer), len(tc.plan))
		}
	}
}

// The "restart" promise at the signer level: nothing but the secret is
// needed to verify.
func TestAccessCodeVerifiesWithFreshSigner(t *testing.T) {
	code, _ := newCodeSigner(testCodeSecret).issue("cus_Nj5B57LZqvnaIg", "pro")
	secretCopy := append([]byte(nil), testCodeSecret...)
	if _, _, err := newCodeSigner(secretCopy).verify(code); err != nil {
		t.Fatalf("fresh signer with the same secret: %v", err)
	}
}

func FuzzAccessCodeVerify(f *testing.F) {
	s := newCodeSigner(testCodeSecret)
	code, _ := s.issue("cus_Nj5B57LZqvnaIg", "pro")
	f.Add(code)
	f.Add("")
	f.Add("0000-0000")
	f.Fuzz(func(t *testing.T, in string) {
		cust, plan, err := s.verify(in)
		if err == nil && (cust == "" || plan == "") {
			t.Fatalf("verify(%q) accepted with empty fields", in)
		}
	})
}

func BenchmarkAccessCodeVerify(b *testing.B) {
	s := newCodeSigner(testCodeSecret)
	code, _ := s.issue("cus_Nj5B57LZqvnaIg", "pro")
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := s.verify(code); err != nil {
			b.Fatal(err)
		}
	}
}
