package auth

import (
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// Token defaults and limits. They live here so that every node of a cluster
// applies the same ones.
const (
	DefaultTokenTTL = 5 * time.Minute
	// MaxTokenTTL bounds IssuerConfig.TTL. A join token is used once, right
	// after it is issued; a long life only widens the window for a leaked one.
	MaxTokenTTL   = 10 * time.Minute
	DefaultIssuer = "monkeythorn-meet"
	// MinSecretLen is the shortest HS256 key accepted: 256 bits, the size
	// of the hash, as RFC 7518 section 3.2 requires.
	MinSecretLen = 32
	// leeway absorbs clock skew between cluster nodes.
	leeway = 5 * time.Second
)

// Grants say what a participant may do in a room.
type Grants struct {
	Publish   bool `json:"pub"`
	Subscribe bool `json:"sub"`
	// Host: the token was issued to the bearer of the room's host key
	// (HostKey), who joins as a host past a lock or lobby.
	Host bool `json:"host,omitempty"`
}

// Claims is the payload of a join token.
type Claims struct {
	Room     string `json:"room"`
	Grants   Grants `json:"grants"`
	E2EE     bool   `json:"e2ee"`           // the participant joins an encrypted room
	Plan     string `json:"plan,omitempty"` // "" = free
	Customer string `json:"cus,omitempty"`  // billing customer id for paid plans
	jwt.RegisteredClaims
}

// TokenRequest is what the caller of Issue decides; the Issuer adds the
// participant id, times, issuer and audience.
type TokenRequest struct {
	Room           RoomCode
	Grants         Grants
	E2EE           bool
	Plan, Customer string
}

// IssuerConfig configures NewIssuer. Zero values take the documented defaults.
type IssuerConfig struct {
	Secret Secret           // HS256 key, at least MinSecretLen bytes
	TTL    time.Duration    // token lifetime; default DefaultTokenTTL, at most MaxTokenTTL
	Issuer string           // iss and aud; default DefaultIssuer
	Now    func() time.Time // clock; default time.Now
}

// Issuer signs and verifies join tokens with one shared secret. It is safe
// for concurrent use.
type Issuer struct {
	secret []byte
	ttl    time.Duration
	issuer string
	now    func() time.Time
	parser *jwt.Parser
}

// NewIssuer validates cfg, applies defaults and returns an Issuer. The secret
// is copied, so the caller may wipe its slice.
func NewIssuer(cfg IssuerConfig) (*Issuer, error) {
	if len(cfg.Secret) < MinSecretLen {
		return nil, fmt.Errorf("%w: secret is %d bytes, need at least %d (generate one with `openssl rand -base64 48`)",
			ErrConfig, len(cfg.Secret), MinSecretLen)
	}
	switch {
	case cfg.TTL == 0:
		cfg.TTL = DefaultTokenTTL
	case cfg.TTL < 0:
		return nil, fmt.Errorf("%w: token TTL %v is negative", ErrConfig, cfg.TTL)
	case cfg.TTL > MaxTokenTTL:
		return nil, fmt.Errorf("%w: token TTL %v is longer than the maximum %v", ErrConfig, cfg.TTL, MaxTokenTTL)
	}
	if cfg.Issuer == "" {
		cfg.Issuer = DefaultIssuer
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	i := &Issuer{
		secret: append([]byte(nil), cfg.Secret...),
		ttl:    cfg.TTL,
		issuer: cfg.Issuer,
		now:    cfg.Now,
	}
	i.parser = jwt.NewParser(
		// Pinning the algorithm is what stops "alg: none" and the
		// RS256-with-public-key-as-HMAC-secret confusion.
		jwt.WithValidMethods([]string{jwt.SigningMethodHS256.Alg()}),
		jwt.WithExpirationRequired(),
		jwt.WithIssuedAt(),
		jwt.WithIssuer(cfg.Issuer),
		jwt.WithAudience(cfg.Issuer),
		jwt.WithLeeway(leeway),
		jwt.WithTimeFunc(cfg.Now),
	)
	return i, nil
}

// TTL returns the lifetime of issued tokens.
func (i *Issuer) TTL() time.Duration { return i.ttl }

// Issue signs a token for req with a fresh random participant id as subject.
func (i *Issuer) Issue(req TokenRequest) (string, *Claims, error) {
	if _, err := ParseRoomCode(string(req.Room)); err != nil {
		return "", nil, fmt.Errorf("auth: issuing token: %w", err)
	}
	now := i.now()
	c := &Claims{
		Room:     string(req.Room),
		Grants:   req.Grants,
		E2EE:     req.E2EE,
		Plan:     req.Plan,
		Customer: req.Customer,
		RegisteredClaims: jwt.RegisteredClaims{
			Subject:   NewParticipantID(),
			Issuer:    i.issuer,
			Audience:  jwt.ClaimStrings{i.issuer},
			IssuedAt:  jwt.NewNumericDate(now),
			NotBefore: jwt.NewNumericDate(now),
			ExpiresAt: jwt.NewNumericDate(now.Add(i.ttl)),
		},
	}
	tok, err := jwt.NewWithClaims(jwt.SigningMethodHS256, c).SignedString(i.secret)
	if err != nil {
		return "", nil, fmt.Errorf("auth: signing token: %w", err)
	}
	return tok, c, nil
}

// Verify checks a token's signature, algorithm, issuer, audience and times
// and returns its claims. Errors wrap ErrTokenMalformed, ErrTokenExpired or
// ErrTokenInvalid.
func (i *Issuer) Verify(token string) (*Claims, error) {
	c := new(Claims)
	_, err := i.parser.ParseWithClaims(token, c, i.key)
	if err != nil {
		return nil, classify(err)
	}
	if c.Subject == "" {
		return nil, fmt.Errorf("%w: no participant id", ErrTokenInvalid)
	}
	if _, err := ParseRoomCode(c.Room); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrTokenInvalid, err)
	}
	return c, nil
}

// VerifyForRoom is Verify plus a check that the token was issued for room.
// A mismatch wraps ErrWrongRoom.
func (i *Issuer) VerifyForRoom(token string, room RoomCode) (*Claims, error) {
	c, err := i.Verify(token)
	if err != nil {
		return nil, err
	}
	if c.Room != string(room) {
		return nil, fmt.Errorf("%w", ErrWrongRoom)
	}
	return c, nil
}

// key is the jwt.Keyfunc. The parser already pins the algorithm; checking
// the method type again costs nothing and keeps this safe if the parser
// options are ever edited.
func (i *Issuer) key(t *jwt.Token) (any, error) {
	if _, ok := t.Method.(*jwt.SigningMethodHMAC); !ok || t.Method.Alg() != jwt.SigningMethodHS256.Alg() {
		return nil, fmt.Errorf("unexpected signing method %q", t.Method.Alg())
	}
	return i.secret, nil
}

// classify maps jwt errors onto our sentinels. Anything that hints at
// forgery wins over expiry, so a forged expired token is reported as
// invalid, not as a token to refresh. The jwt error is kept as text only: the
// sentinels are the contract.
func classify(err error) error {
	switch {
	case errors.Is(err, jwt.ErrTokenMalformed):
		return fmt.Errorf("%w: %v", ErrTokenMalformed, err)
	case errors.Is(err, jwt.ErrTokenSignatureInvalid),
		errors.Is(err, jwt.ErrTokenUnverifiable),
		errors.Is(err, jwt.ErrTokenInvalidIssuer),
		errors.Is(err, jwt.ErrTokenInvalidAudience),
		errors.Is(err, jwt.ErrTokenRequiredClaimMissing),
		errors.Is(err, jwt.ErrTokenNotValidYet),
		errors.Is(err, jwt.ErrTokenUsedBeforeIssued):
		return fmt.Errorf("%w: %v", ErrTokenInvalid, err)
	case errors.Is(err, jwt.ErrTokenExpired):
		return fmt.Errorf("%w: %v", ErrTokenExpired, err)
	default:
		return fmt.Errorf("%w: %v", ErrTokenInvalid, err)
	}
}

// LogValue keeps the room code and participant id out of logs (see the "no
// identity logging" promise) while leaving what helps debugging.
func (c Claims) LogValue() slog.Value {
	var exp time.Time
	if c.ExpiresAt != nil {
		exp = c.ExpiresAt.Time
	}
	return slog.GroupValue(
		slog.Bool("pub", c.Grants.Publish),
		slog.Bool("sub", c.Grants.Subscribe),
		slog.Bool("host", c.Grants.Host),
		slog.Bool("e2ee", c.E2EE),
		slog.String("plan", c.Plan),
		slog.Time("exp", exp),
	)
}

// LogValue redacts the room code and customer id, like Claims.LogValue.
func (r TokenRequest) LogValue() slog.Value {
	return slog.GroupValue(
		slog.Any("room", r.Room),
		slog.Bool("pub", r.Grants.Publish),
		slog.Bool("sub", r.Grants.Subscribe),
		slog.Bool("e2ee", r.E2EE),
		slog.String("plan", r.Plan),
	)
}
