package auth

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestTURNCredentials(t *testing.T) {
	user, pass := TURNCredentials(testSecret, "alice", 10*time.Minute, time.Unix(1700000000-600, 0))
	if user != "1700000000:alice" {
		t.Fatalf("username %q", user)
	}
	// Reference value from: printf 1700000000:alice |
	//   openssl dgst -sha1 -hmac 0123456789abcdef0123456789abcdef -binary | base64
	// which is what coturn's use-auth-secret computes.
	if pass != "syM0noiTOlQo3X9F1YXulwwxriE=" {
		t.Fatalf("password %q does not match the coturn scheme", pass)
	}

	exp := time.Unix(1700000000, 0)
	otherSecret := []byte("another-secret-another-secret-xx")
	tests := []struct {
		name     string
		secret   []byte
		user     string
		at       time.Time
		wantErr  error
		wantSame bool // password equals pass
	}{
		{"good at issue", testSecret, user, exp.Add(-10 * time.Minute), nil, true},
		{"good at expiry second", testSecret, user, exp.Add(999 * time.Millisecond), nil, true},
		{"expired", testSecret, user, exp.Add(time.Second), ErrTURNExpired, false},
		{"expired long ago", testSecret, user, exp.Add(24 * time.Hour), ErrTURNExpired, false},
		{"tampered expiry", testSecret, "1800000000:alice", exp, nil, false},
		{"tampered id", testSecret, "1700000000:mallory", exp, nil, false},
		{"wrong secret", otherSecret, user, exp, nil, false},
		{"empty", testSecret, "", exp, ErrTURNMalformed, false},
		{"no colon", testSecret, "1700000000", exp, ErrTURNMalformed, false},
		{"empty id", testSecret, "1700000000:", exp, ErrTURNMalformed, false},
		{"empty expiry", testSecret, ":alice", exp, ErrTURNMalformed, false},
		{"letters", testSecret, "17000000x0:alice", exp, ErrTURNMalformed, false},
		{"plus sign", testSecret, "+1700000000:alice", exp, ErrTURNMalformed, false},
		{"negative", testSecret, "-1:alice", exp, ErrTURNMalformed, false},
		{"overflow", testSecret, "99999999999999999999:alice", exp, ErrTURNMalformed, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := TURNPassword(tt.secret, tt.user, tt.at)
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) || got != "" {
					t.Fatalf("TURNPassword = %q, %v; want %v", got, err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if (got == pass) != tt.wantSame {
				t.Fatalf("password %q vs issued %q: want equal=%v", got, pass, tt.wantSame)
			}
		})
	}
}

func TestTURNIDWithColon(t *testing.T) {
	now := time.Unix(1700000000, 0)
	user, pass := TURNCredentials(testSecret, "room:peer", time.Minute, now)
	if !strings.HasSuffix(user, ":room:peer") {
		t.Fatalf("username %q", user)
	}
	got, err := TURNPassword(testSecret, user, now)
	if err != nil || got != pass {
		t.Fatalf("TURNPassword = %q, %v; want %q", got, err, pass)
	}
}

func TestTURNSecretIsDerived(t *testing.T) {
	secret := []byte("0123456789abcdef0123456789abcdef")
	d := TURNSecret(secret)
	if len(d) != 32 || string(d) == string(secret) || string(TURNSecret(secret)) != string(d) {
		t.Fatalf("TURNSecret: %x", d)
	}
	if string(TURNSecret([]byte("another secret of thirty-two b!!"))) == string(d) {
		t.Error("two secrets derive the same TURN secret")
	}
}

func TestTURNUser(t *testing.T) {
	id, exp, err := TURNUser("1700000000:p-1")
	if err != nil || id != "p-1" || exp.Unix() != 1700000000 {
		t.Fatalf("%q %v %v", id, exp, err)
	}
	for _, bad := range []string{"", "p", "+1:p", "1:", ":p", "x:p"} {
		if _, _, err := TURNUser(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}
