package auth

import (
	"encoding/base64"
	"errors"
	"strings"
	"testing"
)

func TestRoomCodeAlphabet(t *testing.T) {
	if len(RoomCodeAlphabet) != 31 {
		t.Errorf("alphabet has %d characters, want 31", len(RoomCodeAlphabet))
	}
	for _, c := range "0o1li" {
		if strings.ContainsRune(RoomCodeAlphabet, c) {
			t.Errorf("alphabet contains look-alike %q", c)
		}
	}
	seen := map[rune]bool{}
	for _, c := range RoomCodeAlphabet {
		if seen[c] {
			t.Errorf("alphabet repeats %q", c)
		}
		seen[c] = true
		if !(c >= 'a' && c <= 'z' || c >= '2' && c <= '9') {
			t.Errorf("alphabet contains %q", c)
		}
	}
}

// TestNewRoomCodeUniform draws 10,000 codes (90,000 characters) and checks
// the character counts with a chi-square statistic (30 degrees of freedom,
// mean 30, sd ~7.7). The bound of 120 is so loose that a correct generator
// exceeds it with probability far below 1e-10, yet a plain `byte % 31`
// generator scores about 250 (its first 8 characters are 9/8 as likely), so
// the test still catches modulo bias.
func TestNewRoomCodeUniform(t *testing.T) {
	const n = 10000
	counts := map[byte]int{}
	seen := make(map[RoomCode]bool, n)
	for range n {
		c, err := NewRoomCode()
		if err != nil {
			t.Fatal(err)
		}
		if _, err := ParseRoomCode(string(c)); err != nil {
			t.Fatalf("NewRoomCode made an invalid code: %v", err)
		}
		if seen[c] {
			// 10^4 codes out of 31^9: a repeat has probability ~2e-6.
			t.Fatalf("code repeated after %d draws", len(seen))
		}
		seen[c] = true
		for i := 0; i < len(c); i++ {
			counts[c[i]]++
		}
	}
	expected := float64(n*RoomCodeLen) / float64(len(RoomCodeAlphabet))
	chi2 := 0.0
	for i := 0; i < len(RoomCodeAlphabet); i++ {
		d := float64(counts[RoomCodeAlphabet[i]]) - expected
		chi2 += d * d / expected
	}
	t.Logf("chi-square over %d characters: %.1f (df 30)", n*RoomCodeLen, chi2)
	if chi2 > 120 {
		t.Errorf("character distribution not uniform: chi-square %.1f > 120; counts %v", chi2, counts)
	}
}

func TestParseRoomCode(t *testing.T) {
	tests := []struct {
		in string
		ok bool
	}{
		{"abcdefghj", true},
		{"23456789z", true},
		{"ABCDEFGHJ", false},
		{"abcdefghJ", false},
		{"abcdefgh0", false},
		{"abcdefgho", false},
		{"abcdefgh1", false},
		{"abcdefghl", false},
		{"abcdefghi", false},
		{"abcdefgh", false},
		{"abcdefghjk", false},
		{"", false},
		{"abcd-efgh", false},
		{"abcdefgé", false}, // 9 bytes, 8 runes
		{"abcdefgh ", false},
		{" abcdefgh", false},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			c, err := ParseRoomCode(tt.in)
			if tt.ok {
				if err != nil || string(c) != tt.in {
					t.Fatalf("ParseRoomCode(%q) = %q, %v", tt.in, c, err)
				}
				return
			}
			if !errors.Is(err, ErrBadRoomCode) {
				t.Fatalf("ParseRoomCode(%q) err = %v, want ErrBadRoomCode", tt.in, err)
			}
			if c != "" {
				t.Errorf("returned %q with an error", c)
			}
			if len(tt.in) >= 4 && strings.Contains(err.Error(), tt.in) {
				t.Errorf("error %q echoes the input", err)
			}
		})
	}
}

func TestNewParticipantID(t *testing.T) {
	seen := map[string]bool{}
	for range 1000 {
		id := NewParticipantID()
		if len(id) != 22 {
			t.Fatalf("id %q has length %d, want 22", id, len(id))
		}
		raw, err := base64.RawURLEncoding.Strict().DecodeString(id)
		if err != nil || len(raw) != 16 {
			t.Fatalf("id %q: not 16 bytes of unpadded base64url: %v", id, err)
		}
		if seen[id] {
			t.Fatalf("id %q repeated", id)
		}
		seen[id] = true
	}
}
