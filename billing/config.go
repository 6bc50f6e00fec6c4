package billing

import (
	"crypto/tls"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"time"
)

// Defaults applied by New. Documented in docs/billing.md.
const (
	DefaultFlushInterval = 2 * time.Minute
	DefaultCacheTTL      = time.Minute
	// DefaultWebhookTolerance is Stripe's own default.
	DefaultWebhookTolerance = 5 * time.Minute
	defaultStripeTimeout    = 20 * time.Second
	minFlushInterval        = time.Second
)

// Config configures a Service. Billing is off when StripeKey is empty: only
// free plans are listed and the checkout endpoints answer 503.
type Config struct {
	StripeKey, WebhookSecret string
	Plans                    []Plan // nil = DefaultPlans()
	PublicURL                string // base for Checkout success/cancel URLs, e.g. https://meet.example.com
	CodeSecret               []byte // HMAC key for access codes, at least 16 bytes when billing is on
	SMTPURL                  string // smtp://user:pass@host:587 (STARTTLS) or smtps://user:pass@host:465; "" = mail off
	MailFrom                 string
	StripeBackendURL         string       // stripe-mock in tests; "" = real Stripe
	HTTPClient               *http.Client // optional; default has a 20 s time-out
	Logger                   *slog.Logger // nil = discard
	FlushInterval            time.Duration
	Now                      func() time.Time

	// WebhookTolerance is how far a webhook signature's timestamp may be
	// from now, in either direction; default DefaultWebhookTolerance.
	WebhookTolerance time.Duration

	// CacheTTL bounds how long a subscription status read from Stripe is
	// trusted; webhooks invalidate it sooner. Default DefaultCacheTTL.
	CacheTTL time.Duration
	// MailTLSConfig is cloned for STARTTLS/SMTPS; nil = system roots.
	// Tests set RootCAs to trust their own server.
	MailTLSConfig *tls.Config
}

// withDefaults returns a copy with defaults filled in, or an error naming
// the first invalid field.
func (c Config) withDefaults() (Config, error) {
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.FlushInterval == 0 {
		c.FlushInterval = DefaultFlushInterval
	}
	if c.FlushInterval < minFlushInterval {
		return c, fmt.Errorf("%w: FlushInterval %v is below %v", ErrInvalidConfig, c.FlushInterval, minFlushInterval)
	}
	if c.WebhookTolerance == 0 {
		c.WebhookTolerance = DefaultWebhookTolerance
	}
	if c.WebhookTolerance < 0 {
		return c, fmt.Errorf("%w: WebhookTolerance is negative", ErrInvalidConfig)
	}
	if c.CacheTTL == 0 {
		c.CacheTTL = DefaultCacheTTL
	}
	if c.CacheTTL < 0 {
		return c, fmt.Errorf("%w: CacheTTL is negative", ErrInvalidConfig)
	}
	if c.Plans == nil {
		c.Plans = DefaultPlans()
	}
	c.Plans = append([]Plan(nil), c.Plans...)
	if c.HTTPClient == nil {
		c.HTTPClient = &http.Client{Timeout: defaultStripeTimeout}
	}
	if err := validatePlans(c.Plans, c.StripeKey != ""); err != nil {
		return c, err
	}
	if c.StripeKey == "" {
		return c, nil
	}
	return c, c.validateBilling()
}

func (c Config) validateBilling() error {
	if c.WebhookSecret == "" {
		return fmt.Errorf("%w: a Stripe key is set but the webhook signing secret is empty; set MEET_STRIPE_WEBHOOK_SECRET (whsec_...)", ErrInvalidConfig)
	}
	if len(c.CodeSecret) < minCodeSecretLen {
		return fmt.Errorf("%w: CodeSecret must be at least %d bytes", ErrInvalidConfig, minCodeSecretLen)
	}
	u, err := url.Parse(c.PublicURL)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return fmt.Errorf("%w: PublicURL %q must be an absolute http(s) URL such as https://meet.example.com", ErrInvalidConfig, c.PublicURL)
	}
	if c.StripeBackendURL != "" {
		if u, err := url.Parse(c.StripeBackendURL); err != nil || u.Host == "" {
			return fmt.Errorf("%w: StripeBackendURL %q is not an absolute URL", ErrInvalidConfig, c.StripeBackendURL)
		}
	}
	if c.SMTPURL != "" {
		if _, err := parseSMTPURL(c.SMTPURL); err != nil {
			return err
		}
		if _, err := parseMailbox(c.MailFrom); err != nil {
			return fmt.Errorf("%w: MailFrom: %v", ErrInvalidConfig, err)
		}
	}
	return nil
}
