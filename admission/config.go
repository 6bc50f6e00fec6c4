package admission

import (
	"fmt"
	"math"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"golang.org/x/time/rate"
)

// Limit names one limit. Its String is the label of the refusal counter.
type Limit int

// The limits a Gate enforces.
const (
	LimitUnknown    Limit = iota
	Rooms                 // POST /api/rooms per address
	Tokens                // POST /api/token per address
	Checkout              // billing checkout calls per address
	Upgrades              // WebSocket upgrades per address
	SessionsPerAddr       // concurrent signaling sessions per address
	Sessions              // concurrent signaling sessions on the node
	ContentType           // JSON endpoints called without application/json
	numLimits
)

func (l Limit) String() string {
	switch l {
	case Rooms:
		return "rooms"
	case Tokens:
		return "tokens"
	case Checkout:
		return "checkout"
	case Upgrades:
		return "ws_upgrades"
	case SessionsPerAddr:
		return "sessions_per_address"
	case Sessions:
		return "sessions"
	case ContentType:
		return "content_type"
	}
	return "unknown"
}

// Rate is a token bucket: Burst actions at once, then PerSecond.
type Rate struct {
	PerSecond float64
	Burst     int
}

// String formats r as ParseRate reads it.
func (r Rate) String() string {
	if r.unlimited() {
		return "off"
	}
	if r.PerSecond >= 1 || r.PerSecond == 0 {
		return strconv.FormatFloat(r.PerSecond, 'f', -1, 64) + "/s," + strconv.Itoa(r.Burst)
	}
	return strconv.FormatFloat(r.PerSecond*60, 'f', -1, 64) + "/m," + strconv.Itoa(r.Burst)
}

// Unlimited is a Rate that never refuses ("off").
var Unlimited = Rate{PerSecond: math.Inf(1), Burst: 1}

// ParseRate reads "N/s,B" or "N/m,B" (N per second or minute, bursts of B),
// or "off" for Unlimited.
func ParseRate(s string) (Rate, error) {
	if s == "off" {
		return Unlimited, nil
	}
	perStr, burstStr, ok := strings.Cut(s, ",")
	num, unit, ok2 := strings.Cut(perStr, "/")
	n, err1 := strconv.ParseFloat(num, 64)
	b, err2 := strconv.Atoi(burstStr)
	if !ok || !ok2 || err1 != nil || err2 != nil || n <= 0 || b < 1 {
		return Rate{}, fmt.Errorf("%w: %q: want N/s,BURST or N/m,BURST (e.g. 5/s,50) or off", ErrBadRate, s)
	}
	switch unit {
	case "s":
	case "m":
		n /= 60
	default:
		return Rate{}, fmt.Errorf("%w: %q: unit must be s or m", ErrBadRate, s)
	}
	return Rate{PerSecond: n, Burst: b}, nil
}

func (r Rate) unlimited() bool { return math.IsInf(r.PerSecond, 1) }

func (r Rate) limiter() *rate.Limiter { return rate.NewLimiter(rate.Limit(r.PerSecond), r.Burst) }

// Defaults, in one place (docs/security.md says why each is what it is).
var (
	// DefaultRooms: a person makes a few meetings a day.
	DefaultRooms = Rate{PerSecond: 1, Burst: 20}
	// DefaultTokens: one per join, and a whole office behind one NAT may
	// join at nine o'clock; still far too slow to find live rooms by
	// guessing codes.
	DefaultTokens = Rate{PerSecond: 5, Burst: 50}
	// DefaultCheckout: each call reaches Stripe's API.
	DefaultCheckout = Rate{PerSecond: 10.0 / 60, Burst: 10}
	// DefaultUpgrades: one per join attempt, like tokens.
	DefaultUpgrades = Rate{PerSecond: 5, Burst: 50}
)

// Default caps on concurrent signaling sessions.
const (
	DefaultSessionsPerAddr = 50
	DefaultSessions        = 2000
	// DefaultMaxAddrs bounds the addresses each rate limit remembers.
	DefaultMaxAddrs = 100_000
)

// Config configures a Gate. Zero rates and caps take the defaults; use
// Unlimited to turn a rate limit off, -1 for no cap.
type Config struct {
	Rooms, Tokens, Checkout, Upgrades Rate
	SessionsPerAddr                   int // -1: no cap
	Sessions                          int // -1: no cap

	// Exempt are trusted clients (a load generator on loopback): no
	// per-address limits for them. The node cap still applies.
	Exempt []netip.Prefix
	// ProxyHeader names the header a reverse proxy puts the client address
	// in ("X-Real-IP", or "X-Forwarded-For" whose last untrusted entry is
	// used). It is read only on connections from TrustedProxies. Empty:
	// the connection's address is the client's.
	ProxyHeader    string
	TrustedProxies []netip.Prefix

	// MaxAddrs bounds how many addresses each rate limit keeps state for;
	// default DefaultMaxAddrs. Beyond it, idle addresses are forgotten and,
	// if none is idle, new addresses are refused (fail closed).
	MaxAddrs int

	// Now is the clock; default time.Now.
	Now func() time.Time
}

func (c *Config) validate() error {
	for _, r := range []*Rate{&c.Rooms, &c.Tokens, &c.Checkout, &c.Upgrades} {
		if r.PerSecond < 0 || r.Burst < 0 || (r.PerSecond > 0) != (r.Burst > 0) || math.IsNaN(r.PerSecond) {
			return fmt.Errorf("%w: rate %v: want a positive rate and burst", ErrConfig, *r)
		}
	}
	if c.SessionsPerAddr < -1 || c.Sessions < -1 || c.MaxAddrs < 0 {
		return fmt.Errorf("%w: caps must be positive (or -1 for none)", ErrConfig)
	}
	if c.ProxyHeader != "" && http.CanonicalHeaderKey(c.ProxyHeader) == "" {
		return fmt.Errorf("%w: proxy header %q", ErrConfig, c.ProxyHeader)
	}
	def := func(r *Rate, d Rate) {
		if r.PerSecond == 0 {
			*r = d
		}
	}
	def(&c.Rooms, DefaultRooms)
	def(&c.Tokens, DefaultTokens)
	def(&c.Checkout, DefaultCheckout)
	def(&c.Upgrades, DefaultUpgrades)
	if c.SessionsPerAddr == 0 {
		c.SessionsPerAddr = DefaultSessionsPerAddr
	}
	if c.Sessions == 0 {
		c.Sessions = DefaultSessions
	}
	if c.MaxAddrs == 0 {
		c.MaxAddrs = DefaultMaxAddrs
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	return nil
}

func (c *Config) rate(l Limit) *Rate {
	switch l {
	case Rooms:
		return &c.Rooms
	case Tokens:
		return &c.Tokens
	case Checkout:
		return &c.Checkout
	case Upgrades:
		return &c.Upgrades
	}
	return &Rate{}
}
