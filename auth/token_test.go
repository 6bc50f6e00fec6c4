package auth

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

var (
	testSecret = []byte("0123456789abcdef0123456789abcdef")
	testRoom   = RoomCode("abcdefghj")
	testT0     = time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
)

// clock is a settable time source for an Issuer.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time   { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Set(t time.Time)  { c.mu.Lock(); c.t = t; c.mu.Unlock() }
func newClock(t time.Time) *clock { return &clock{t: t} }
func mustIssuer(t testing.TB, cfg IssuerConfig) *Issuer {
	t.Helper()
	i, err := NewIssuer(cfg)
	if err != nil {
		t.Fatalf("NewIssuer: %v", err)
	}
	return i
}

// signRaw signs arbitrary claims the way an attacker or a buggy peer might.
func signRaw(t *testing.T, m jwt.SigningMethod, claims jwt.Claims, key any) string {
	t.Helper()
	s, err := jwt.NewWithClaims(m, claims).SignedString(key)
	if err != nil {
		t.Fatalf("signing with %s: %v", m.Alg(), err)
	}
	return s
}

// validClaims returns claims our default issuer would accept at testT0.
func validClaims() *Claims {
	return &Claims{
		Room:   string(testRoom),
		Grants: Grants{Publish: true, Subscribe: true},
		RegisteredClaims: jwt.RegisteredClaims{
			Subject:   "participant",
			Issuer:    DefaultIssuer,
			Audience:  jwt.ClaimStrings{DefaultIssuer},
			IssuedAt:  jwt.NewNumericDate(testT0),
			NotBefore: jwt.NewNumericDate(testT0),
			ExpiresAt: jwt.NewNumericDate(testT0.Add(time.Minute)),
		},
	}
}

// reencodePayload swaps a token's payload while keeping header and signature.
func reencodePayload(t *testing.T, tok string, edit func(map[string]any)) string {
	t.Helper()
	parts := strings.Split(tok, ".")
	raw, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	m := map[string]any{}
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatal(err)
	}
	edit(m)
	raw, err = json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	parts[1] = base64.RawURLEncoding.EncodeToString(raw)
	return strings.Join(parts, ".")
}

func TestIssueVerifyRoundTrip(t *testing.T) {
	clk := newClock(testT0)
	iss := mustIssuer(t, IssuerConfig{Secret: testSecret, Now: clk.Now})
	req := TokenRequest{Room: testRoom, Grants: Grants{Publish: true}, E2EE: true, Plan: "pro", Customer: "cus_123"}
	tok, issued, err := iss.Issue(req)
	if err != nil {
		t.Fatal(err)
	}
	got, err := iss.VerifyForRoom(tok, testRoom)
	if err != nil {
		t.Fatalf("VerifyForRoom: %v", err)
	}
	if got.Room != string(testRoom) || got.Grants != req.Grants || !got.E2EE || got.Plan != "pro" || got.Customer != "cus_123" {
		t.Errorf("claims changed in transit: %+v", got)
	}
	if got.Subject != issued.Subject || len(got.Subject) != 22 {
		t.Errorf("subject %q, issued %q", got.Subject, issued.Subject)
	}
	if got.Issuer != DefaultIssuer || len(got.Audience) != 1 || got.Audience[0] != DefaultIssuer {
		t.Errorf("iss/aud = %q/%v", got.Issuer, got.Audience)
	}
	if life := got.ExpiresAt.Sub(got.IssuedAt.Time); life != DefaultTokenTTL {
		t.Errorf("lifetime %v, want default %v", life, DefaultTokenTTL)
	}
}

func TestIssueFreshSubject(t *testing.T) {
	iss := mustIssuer(t, IssuerConfig{Secret: testSecret})
	seen := map[string]bool{}
	for range 100 {
		_, c, err := iss.Issue(TokenRequest{Room: testRoom})
		if err != nil {
			t.Fatal(err)
		}
		if seen[c.Subject] {
			t.Fatalf("subject %q issued twice", c.Subject)
		}
		seen[c.Subject] = true
	}
}

func TestIssueRejectsBadRoom(t *testing.T) {
	iss := mustIssuer(t, IssuerConfig{Secret: testSecret})
	for _, room := range []RoomCode{"", "ABCDEFGHJ", "abc"} {
		if _, _, err := iss.Issue(TokenRequest{Room: room}); !errors.Is(err, ErrBadRoomCode) {
			t.Errorf("Issue(room %q) err = %v, want ErrBadRoomCode", room, err)
		}
	}
}

func TestVerifyRefuses(t *testing.T) {
	clk := newClock(testT0)
	iss := mustIssuer(t, IssuerConfig{Secret: testSecret, TTL: 2 * time.Minute, Now: clk.Now})
	good, _, err := iss.Issue(TokenRequest{Room: testRoom, Grants: Grants{Subscribe: true}})
	if err != nil {
		t.Fatal(err)
	}

	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	pubDER, err := x509.MarshalPKIXPublicKey(&rsaKey.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	pubPEM := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pubDER})

	otherIssuer := mustIssuer(t, IssuerConfig{Secret: testSecret, Issuer: "someone-else", Now: clk.Now})
	otherIssTok, _, err := otherIssuer.Issue(TokenRequest{Room: testRoom})
	if err != nil {
		t.Fatal(err)
	}
	otherSecret := mustIssuer(t, IssuerConfig{Secret: []byte("a-completely-different-32b-secret"), Now: clk.Now})
	otherSecretTok, _, err := otherSecret.Issue(TokenRequest{Room: testRoom})
	if err != nil {
		t.Fatal(err)
	}

	wrongAud := validClaims()
	wrongAud.Audience = jwt.ClaimStrings{"other-service"}
	noExp := validClaims()
	noExp.ExpiresAt = nil
	noSub := validClaims()
	noSub.Subject = ""
	badRoom := validClaims()
	badRoom.Room = "../../etc"

	sigParts := strings.Split(good, ".")
	// Flip the first signature character: the last one may only carry
	// padding bits that non-strict base64 decoding ignores.
	flipped := []byte(sigParts[2])
	if flipped[0] == 'A' {
		flipped[0] = 'B'
	} else {
		flipped[0] = 'A'
	}
	tamperedSig := sigParts[0] + "." + sigParts[1] + "." + string(flipped)

	tests := []struct {
		name  string
		token string
		at    time.Time
		want  error
	}{
		{"good", good, testT0, nil},
		{"good within leeway after expiry", good, testT0.Add(2*time.Minute + 4*time.Second), nil},
		{"expired", good, testT0.Add(2*time.Minute + 6*time.Second), ErrTokenExpired},
		{"not yet valid", good, testT0.Add(-time.Minute), ErrTokenInvalid},
		{"tampered payload grants", reencodePayload(t, good, func(m map[string]any) {
			m["grants"] = map[string]any{"pub": true, "sub": true}
		}), testT0, ErrTokenInvalid},
		{"tampered payload expiry", reencodePayload(t, good, func(m map[string]any) {
			m["exp"] = testT0.Add(time.Hour).Unix()
		}), testT0.Add(time.Minute * 30), ErrTokenInvalid},
		{"tampered signature", tamperedSig, testT0, ErrTokenInvalid},
		{"signature stripped", sigParts[0] + "." + sigParts[1] + ".", testT0, ErrTokenInvalid},
		{"alg none", signRaw(t, jwt.SigningMethodNone, validClaims(), jwt.UnsafeAllowNoneSignatureType), testT0, ErrTokenInvalid},
		{"alg none with payload of a good token", func() string {
			h := base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"none","typ":"JWT"}`))
			return h + "." + sigParts[1] + "."
		}(), testT0, ErrTokenInvalid},
		{"RS256 with generated key", signRaw(t, jwt.SigningMethodRS256, validClaims(), rsaKey), testT0, ErrTokenInvalid},
		{"HS256 keyed with RSA public key PEM", signRaw(t, jwt.SigningMethodHS256, validClaims(), pubPEM), testT0, ErrTokenInvalid},
		{"HS512 with the right secret", signRaw(t, jwt.SigningMethodHS512, validClaims(), testSecret), testT0, ErrTokenInvalid},
		{"wrong secret", otherSecretTok, testT0, ErrTokenInvalid},
		{"wrong issuer", otherIssTok, testT0, ErrTokenInvalid},
		{"wrong audience", signRaw(t, jwt.SigningMethodHS256, wrongAud, testSecret), testT0, ErrTokenInvalid},
		{"no exp", signRaw(t, jwt.SigningMethodHS256, noExp, testSecret), testT0, ErrTokenInvalid},
		{"no subject", signRaw(t, jwt.SigningMethodHS256, noSub, testSecret), testT0, ErrTokenInvalid},
		{"room not a room code", signRaw(t, jwt.SigningMethodHS256, badRoom, testSecret), testT0, ErrTokenInvalid},
		{"empty", "", testT0, ErrTokenMalformed},
		{"two parts", sigParts[0] + "." + sigParts[1], testT0, ErrTokenMalformed},
		{"four parts", good + ".x", testT0, ErrTokenMalformed},
		{"garbage base64", "!!!.@@@.###", testT0, ErrTokenMalformed},
		{"header not JSON", base64.RawURLEncoding.EncodeToString([]byte("nope")) + "." + sigParts[1] + "." + sigParts[2], testT0, ErrTokenMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clk.Set(tt.at)
			c, err := iss.Verify(tt.token)
			if tt.want == nil {
				if err != nil || c == nil {
					t.Fatalf("Verify = %v, %v; want success", c, err)
				}
				return
			}
			if !errors.Is(err, tt.want) {
				t.Fatalf("Verify err = %v, want %v", err, tt.want)
			}
			if c != nil {
				t.Errorf("claims returned with an error: %+v", c)
			}
			for _, other := range []error{ErrTokenMalformed, ErrTokenExpired, ErrTokenInvalid} {
				if other != tt.want && errors.Is(err, other) {
					t.Errorf("err %v also matches %v", err, other)
				}
			}
		})
	}
}

func TestVerifyForRoomWrongRoom(t *testing.T) {
	iss := mustIssuer(t, IssuerConfig{Secret: testSecret})
	tok, _, err := iss.Issue(TokenRequest{Room: testRoom})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := iss.VerifyForRoom(tok, "zzzzzzzzz"); !errors.Is(err, ErrWrongRoom) {
		t.Fatalf("err = %v, want ErrWrongRoom", err)
	}
	if _, err := iss.VerifyForRoom("garbage", testRoom); !errors.Is(err, ErrTokenMalformed) {
		t.Fatalf("bad token for right room: err = %v, want ErrTokenMalformed", err)
	}
}

func TestNewIssuerConfig(t *testing.T) {
	tests := []struct {
		name    string
		cfg     IssuerConfig
		wantErr bool
		wantTTL time.Duration
	}{
		{"defaults", IssuerConfig{Secret: testSecret}, false, DefaultTokenTTL},
		{"ttl at max", IssuerConfig{Secret: testSecret, TTL: MaxTokenTTL}, false, MaxTokenTTL},
		{"ttl over max", IssuerConfig{Secret: testSecret, TTL: MaxTokenTTL + time.Second}, true, 0},
		{"ttl 1h", IssuerConfig{Secret: testSecret, TTL: time.Hour}, true, 0},
		{"negative ttl", IssuerConfig{Secret: testSecret, TTL: -time.Second}, true, 0},
		{"short secret", IssuerConfig{Secret: testSecret[:31]}, true, 0},
		{"no secret", IssuerConfig{}, true, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			i, err := NewIssuer(tt.cfg)
			if tt.wantErr {
				if !errors.Is(err, ErrConfig) || i != nil {
					t.Fatalf("NewIssuer = %v, %v; want ErrConfig", i, err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if i.TTL() != tt.wantTTL {
				t.Errorf("TTL = %v, want %v", i.TTL(), tt.wantTTL)
			}
		})
	}
}

func TestIssuerCopiesSecret(t *testing.T) {
	secret := append([]byte(nil), testSecret...)
	iss := mustIssuer(t, IssuerConfig{Secret: secret})
	tok, _, err := iss.Issue(TokenRequest{Room: testRoom})
	if err != nil {
		t.Fatal(err)
	}
	clear(secret)
	if _, err := iss.Verify(tok); err != nil {
		t.Fatalf("wiping the caller's slice broke the issuer: %v", err)
	}
}

func TestIssuerConcurrent(t *testing.T) {
	iss := mustIssuer(t, IssuerConfig{Secret: testSecret})
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 50 {
				tok, _, err := iss.Issue(TokenRequest{Room: testRoom})
				if err == nil {
					_, err = iss.Verify(tok)
				}
				if err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

func BenchmarkVerify(b *testing.B) {
	iss := mustIssuer(b, IssuerConfig{Secret: testSecret})
	tok, _, err := iss.Issue(TokenRequest{Room: testRoom, Grants: Grants{Publish: true, Subscribe: true}, E2EE: true})
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := iss.Verify(tok); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkIssue(b *testing.B) {
	iss := mustIssuer(b, IssuerConfig{Secret: testSecret})
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := iss.Issue(TokenRequest{Room: testRoom}); err != nil {
			b.Fatal(err)
		}
	}
}
