package billing

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	stripe "github.com/stripe/stripe-go/v76"
	"github.com/stripe/stripe-go/v76/client"
)

// newStripeAPI builds a per-Service client: no stripe.Key global, so two
// Services (or two servers in one test) never share credentials or
// backends.
func newStripeAPI(cfg Config) *client.API {
	bc := &stripe.BackendConfig{
		HTTPClient: cfg.HTTPClient,
		// stripe-go logs to stderr by default; we log ourselves, with
		// redaction.
		LeveledLogger: &stripe.LeveledLogger{Level: stripe.LevelNull},
		// Usage reports have their own retry loop with back-off and stable
		// idempotency keys; everything else is a user-initiated request
		// that should fail fast rather than sleep inside a handler.
		MaxNetworkRetries: stripe.Int64(0),
	}
	if cfg.StripeBackendURL != "" {
		bc.URL = stripe.String(cfg.StripeBackendURL)
		b := stripe.GetBackendWithConfig(stripe.APIBackend, bc)
		return client.New(cfg.StripeKey, &stripe.Backends{API: b, Connect: b, Uploads: b})
	}
	// GetBackendWithConfig fills in defaults on the config it gets, so each
	// backend type gets its own copy and thus its own default URL.
	backend := func(t stripe.SupportedBackend) stripe.Backend {
		c := *bc
		return stripe.GetBackendWithConfig(t, &c)
	}
	return client.New(cfg.StripeKey, &stripe.Backends{
		API: backend(stripe.APIBackend), Connect: backend(stripe.ConnectBackend), Uploads: backend(stripe.UploadsBackend),
	})
}

// entitledStatus lists the subscription states that keep a code working.
// past_due is included on purpose: Stripe is still retrying the card, and
// its dunning settings decide when the subscription becomes unpaid or
// canceled, which is when access ends.
func entitledStatus(s stripe.SubscriptionStatus) bool {
	switch s {
	case stripe.SubscriptionStatusActive, stripe.SubscriptionStatusTrialing, stripe.SubscriptionStatusPastDue:
		return true
	}
	return false
}

// subState is what the Service knows about one customer's subscription.
type subState struct {
	active       bool
	planID       string // "" when no item matches a configured plan
	meteredItem  string // subscription item id of the plan's metered price
	subscription string
}

// maxSubscriptionsChecked bounds the one page of subscriptions read per
// customer; a customer of this product has one or two.
const maxSubscriptionsChecked = 10

// fetchSubState asks Stripe for the customer's subscriptions and picks the
// first entitled one, preferring one whose prices match a configured plan.
func (s *Service) fetchSubState(ctx context.Context, customer string) (subState, error) {
	params := &stripe.SubscriptionListParams{
		Customer: stripe.String(customer),
		Status:   stripe.String("all"),
	}
	params.Context = ctx
	params.Limit = stripe.Int64(maxSubscriptionsChecked)
	params.Single = true
	it := s.api.Subscriptions.List(params)
	var best subState
	for it.Next() {
		sub := it.Subscription()
		if !entitledStatus(sub.Status) {
			continue
		}
		st := s.matchPlan(sub)
		if st.planID != "" {
			return st, nil
		}
		if !best.active {
			best = st
		}
	}
	if err := it.Err(); err != nil {
		var se *stripe.Error
		if errors.As(err, &se) && se.HTTPStatusCode == http.StatusNotFound {
			return subState{}, nil // customer deleted in Stripe: nothing is active
		}
		return subState{}, stripeErr(err)
	}
	return best, nil
}

func (s *Service) matchPlan(sub *stripe.Subscription) subState {
	st := subState{active: true, subscription: sub.ID}
	if sub.Items == nil {
		return st
	}
	for _, p := range s.plans {
		if !p.Paid {
			continue
		}
		for _, it := range sub.Items.Data {
			if it.Price == nil {
				continue
			}
			switch it.Price.ID {
			case p.MeteredPriceID:
				st.meteredItem = it.ID
				st.planID = p.ID
			case p.PriceID:
				st.planID = p.ID
			}
		}
		if st.planID != "" {
			return st
		}
	}
	return st
}

// stripeErr marks transport and server failures as ErrStripeUnavailable
// while keeping the original error for logs.
func stripeErr(err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("%w: %w", ErrStripeUnavailable, err)
}

// permanentStripeErr reports whether Stripe rejected a request in a way a
// retry cannot fix (bad item, canceled subscription): 4xx other than 409
// (idempotency conflict in flight) and 429 (rate limited).
func permanentStripeErr(err error) bool {
	var se *stripe.Error
	if !errors.As(err, &se) {
		return false
	}
	c := se.HTTPStatusCode
	return c >= 400 && c < 500 && c != http.StatusConflict && c != http.StatusTooManyRequests
}
