package server

import (
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"time"

	"github.com/monkeythorn/meet/admission"
	"github.com/monkeythorn/meet/auth"
	"github.com/monkeythorn/meet/billing"
	"github.com/monkeythorn/meet/cluster"
	"github.com/monkeythorn/meet/sfu"
	"github.com/monkeythorn/meet/signaling"
)

// Defaults of Config, in one place.
const (
	// DefaultTURNTTL: credentials come with the welcome and are used at
	// once; the embedded TURN server keeps a participant's allocations
	// alive past it while the participant is in the call.
	DefaultTURNTTL = 10 * time.Minute
	// maxBody caps API request bodies: the largest valid one is ~60 bytes.
	maxBody = 4 << 10
)

// Config configures a Server.
type Config struct {
	Logger *slog.Logger // required
	// Secret signs join tokens (and, through auth.TURNSecret, TURN
	// credentials unless TURN.Secret is set); at least auth.MinSecretLen
	// bytes. Required.
	Secret   []byte
	TokenTTL time.Duration // default auth.DefaultTokenTTL
	// PublicURL ("https://meet.example.com") is where browsers reach the
	// server; the signaling URL in token responses is derived from it. Empty:
	// derived from each request's Host and X-Forwarded-Proto.
	PublicURL string
	// SFU configures the built-in SFU; the server adds its own Observers.
	SFU sfu.Config
	// ICEServers are handed to every client as they are (STUN).
	ICEServers []signaling.ICEServer
	TURN       TURNConfig
	// EmbeddedTURN runs a TURN server in the process (see EmbeddedTURN);
	// nil = none. It uses TURN.Secret for credentials.
	EmbeddedTURN *EmbeddedTURN
	// Cluster, when set, makes this node one of several sharing a Redis
	// (docs/scaling.md): joins of rooms hosted elsewhere are redirected.
	// Its PublicURL is this node's own URL; Secret comes from Secret, and
	// Load, Lost and Logger default to the server's. Needs the built-in SFU.
	Cluster *cluster.Config
	// ReadyChecks are the dependencies /readyz checks besides draining.
	ReadyChecks []ReadyCheck
	// ProcessMetrics adds the Go runtime and process collectors to
	// Metrics(); the binary turns it on.
	ProcessMetrics bool
	// AllowedOrigins are extra page origins ("https://app.example.com")
	// allowed to open the WebSocket; the server's own origin always is.
	AllowedOrigins []string
	// Web serves "/" and "/r/<code>"; default: the embedded client.
	Web http.Handler
	// Signaling tweaks the signaling handler's time-outs and limits; its
	// Logger, Conference, Verifier, ICEServers and CheckOrigin are set here.
	Signaling signaling.Config
	// Billing sells paid plans through Stripe (see docs/billing.md). It is
	// off unless Billing.StripeKey is set; then rooms get their plan's
	// limits and paid rooms are metered. Defaults: CodeSecret derived from
	// Secret (so codes survive restarts), PublicURL from PublicURL, Logger
	// from Logger.
	Billing billing.Config

	// Limits are the per-address rate limits, session caps and the
	// client address behind a proxy (docs/security.md). The zero value
	// takes admission's defaults: limits are on unless turned off.
	Limits admission.Config
	// HTTP bounds how long one HTTP connection may take; zero fields take
	// the defaults below.
	HTTP HTTPTimeouts

	// wrapUsage lets tests observe the usage the server records.
	wrapUsage func(usageRecorder) usageRecorder
}

// HTTPTimeouts are the http.Server time-outs of every listener Serve
// runs, so a client cannot hold a connection open by sending slowly or
// not at all. WebSockets are not affected once upgraded.
type HTTPTimeouts struct {
	ReadHeader time.Duration // default DefaultReadHeaderTimeout
	Read       time.Duration // headers and body; default DefaultReadTimeout
	Write      time.Duration // default DefaultWriteTimeout
	Idle       time.Duration // keep-alive between requests; default DefaultIdleTimeout
}

// Defaults of HTTPTimeouts.
const (
	DefaultReadHeaderTimeout = 5 * time.Second
	DefaultReadTimeout       = 15 * time.Second
	DefaultWriteTimeout      = 30 * time.Second
	DefaultIdleTimeout       = 60 * time.Second
)

func (h *HTTPTimeouts) defaults() error {
	for _, f := range []struct {
		d   *time.Duration
		def time.Duration
	}{{&h.ReadHeader, DefaultReadHeaderTimeout}, {&h.Read, DefaultReadTimeout}, {&h.Write, DefaultWriteTimeout}, {&h.Idle, DefaultIdleTimeout}} {
		if *f.d < 0 {
			return fmt.Errorf("%w: negative HTTP time-out", ErrConfig)
		}
		if *f.d == 0 {
			*f.d = f.def
		}
	}
	return nil
}

// TURNConfig describes TURN servers that accept TURN REST credentials.
type TURNConfig struct {
	URLs   []string      // "turn:turn.example.com:3478?transport=udp", ...
	Secret []byte        // shared with the TURN server; default auth.TURNSecret(Config.Secret)
	TTL    time.Duration // default DefaultTURNTTL
}

func (c *Config) validate() error {
	if c.Logger == nil {
		return fmt.Errorf("%w: no Logger", ErrConfig)
	}
	if len(c.Secret) < auth.MinSecretLen {
		return fmt.Errorf("%w: secret is %d bytes, need at least %d", ErrConfig, len(c.Secret), auth.MinSecretLen)
	}
	if c.PublicURL != "" {
		u, err := url.Parse(c.PublicURL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return fmt.Errorf("%w: public URL must look like https://meet.example.com", ErrConfig)
		}
	}
	for _, o := range c.AllowedOrigins {
		if u, err := url.Parse(o); err != nil || u.Scheme == "" || u.Host == "" {
			return fmt.Errorf("%w: allowed origin %q is not scheme://host", ErrConfig, o)
		}
	}
	if err := c.HTTP.defaults(); err != nil {
		return err
	}
	if len(c.TURN.URLs) > 0 || c.EmbeddedTURN != nil {
		if c.TURN.Secret == nil {
			c.TURN.Secret = auth.TURNSecret(c.Secret)
		}
		if c.TURN.TTL == 0 {
			c.TURN.TTL = DefaultTURNTTL
		}
		if c.TURN.TTL < 0 {
			return fmt.Errorf("%w: negative TURN TTL", ErrConfig)
		}
	}
	return nil
}
