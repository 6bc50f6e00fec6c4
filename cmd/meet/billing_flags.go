package main

import (
	"fmt"
	"time"

	"github.com/monkeythorn/meet/billing"
)

// billingOptions are the flags of paid plans (docs/billing.md); options()
// lists them with the others so --help shows them. Billing stays off
// unless a Stripe key is set. The secrets are better given in the
// environment: flags show in ps.
func billingOptions() []option {
	return []option{
		{"stripe-key", "MEET_STRIPE_KEY", "", "Stripe secret key (sk_live_... or a restricted key); empty = billing off. Never logged"},
		{"stripe-webhook-secret", "MEET_STRIPE_WEBHOOK_SECRET", "", "signing secret of the Stripe webhook endpoint /api/stripe/webhook (whsec_...)"},
		{"stripe-api-url", "MEET_STRIPE_API_URL", "", "Stripe API base URL; empty = Stripe itself (tests point it at stripe-mock)"},
		{"plans", "MEET_PLANS", "", `plans as a JSON array merged over the defaults, e.g. [{"id":"pro","price_id":"price_...","metered_price_id":"price_..."}]`},
		{"smtp-url", "MEET_SMTP_URL", "", "mail server for access codes: smtp://user:pass@host:587 (STARTTLS) or smtps://user:pass@host:465; empty = codes only on the checkout page"},
		{"mail-from", "MEET_MAIL_FROM", "", `sender of access-code mail, e.g. "MonkeyThorn Meet <billing@meet.example.com>"`},
		{"stripe-webhook-tolerance", "MEET_STRIPE_WEBHOOK_TOLERANCE", "5m", "how far a webhook signature's time may be from this host's clock, either way; older or newer deliveries are refused"},
	}
}

// parseBillingFlags reads the billing flags. Off (no Stripe key) returns a
// zero Config, and the other billing flags must then be unset, so that a
// key forgotten in a deployment does not go unnoticed. The rest (webhook
// secret, public URL, SMTP URL) is checked by server.New through
// billing.New, which knows the rules.
func parseBillingFlags(v map[string]*string) (billing.Config, error) {
	key := *v["stripe-key"]
	if key == "" {
		for _, name := range []string{"stripe-webhook-secret", "stripe-api-url", "plans", "smtp-url", "mail-from"} {
			if *v[name] != "" {
				return billing.Config{}, fmt.Errorf("--%s is set but billing is off: set --stripe-key (MEET_STRIPE_KEY) too, or unset it", name)
			}
		}
		return billing.Config{}, nil
	}
	tol, err := time.ParseDuration(*v["stripe-webhook-tolerance"])
	if err != nil || tol <= 0 {
		return billing.Config{}, fmt.Errorf("--stripe-webhook-tolerance %q: want a positive duration such as 5m", *v["stripe-webhook-tolerance"])
	}
	plans, err := billing.ParsePlans(*v["plans"])
	if err != nil {
		return billing.Config{}, fmt.Errorf("--plans (MEET_PLANS): %v", err)
	}
	return billing.Config{
		StripeKey:        key,
		WebhookSecret:    *v["stripe-webhook-secret"],
		StripeBackendURL: *v["stripe-api-url"],
		Plans:            plans,
		SMTPURL:          *v["smtp-url"],
		MailFrom:         *v["mail-from"],
		WebhookTolerance: tol,
	}, nil
}
