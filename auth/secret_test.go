package auth

import (
	"bytes"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

func TestLogValueRedacts(t *testing.T) {
	code, err := NewRoomCode()
	if err != nil {
		t.Fatal(err)
	}
	secret := Secret("super-secret-value-0123456789abcdef")
	claims := Claims{
		Room: string(code), Plan: "pro", Grants: Grants{Publish: true},
		RegisteredClaims: jwt.RegisteredClaims{Subject: NewParticipantID(), ExpiresAt: jwt.NewNumericDate(time.Unix(1e9, 0))},
	}
	for _, format := range []string{"json", "text"} {
		var buf bytes.Buffer
		var h slog.Handler = slog.NewJSONHandler(&buf, nil)
		if format == "text" {
			h = slog.NewTextHandler(&buf, nil)
		}
		log := slog.New(h)
		log.Info("joined", "room", code, "secret", secret, "claims", claims,
			slog.Any("req", TokenRequest{Room: code}), slog.Group("g", "room", code))
		out := buf.String()
		for what, s := range map[string]string{"room code": string(code), "secret": string(secret), "participant id": claims.Subject} {
			if strings.Contains(out, s) {
				t.Errorf("%s log output contains the %s: %s", format, what, out)
			}
		}
		if !strings.Contains(out, "redacted") || !strings.Contains(out, "pro") {
			t.Errorf("%s log output lost its useful parts: %s", format, out)
		}
	}
	if s := fmt.Sprint(secret); strings.Contains(s, string(secret)) {
		t.Errorf("fmt prints the secret: %s", s)
	}
}

func TestSecretFingerprint(t *testing.T) {
	a := SecretFingerprint(testSecret)
	// Reference value from: printf meet-cluster-fingerprint |
	//   openssl dgst -sha256 -hmac 0123456789abcdef0123456789abcdef
	if want := "03d164a727f5ef8a13bd503522d4c83c"; a != want {
		t.Errorf("fingerprint %s, want %s", a, want)
	}
	if b := SecretFingerprint([]byte("0123456789abcdef0123456789abcdeF")); b == a {
		t.Error("different secrets share a fingerprint")
	}
	if strings.Contains(a, fmt.Sprintf("%x", testSecret)) {
		t.Error("fingerprint contains the secret")
	}
}
