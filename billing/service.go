package billing

import (
	"context"
	"fmt"
	"log/slog"
	"strings"

	"github.com/stripe/stripe-go/v76/client"
)

// Service sells and checks paid plans. Create it with New; it is safe for
// concurrent use.
type Service struct {
	cfg     Config
	log     *slog.Logger
	plans   []Plan // the plans offered: all configured ones, or only free ones when billing is off
	enabled bool
	api     *client.API // nil when billing is off
	codes   codeSigner
	mail    *mailer // nil when mail is off
	subs    *subCache
	events  *eventSet
	meter   *meter
}

// New validates cfg and returns a Service. With an empty StripeKey the
// Service only lists free plans and every paid path reports
// ErrBillingDisabled.
func New(cfg Config) (*Service, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	s := &Service{
		cfg:     cfg,
		log:     cfg.Logger.With("component", "billing"),
		enabled: cfg.StripeKey != "",
		subs:    newSubCache(cfg.CacheTTL),
		events:  newEventSet(maxRememberedEvents),
		meter:   newMeter(),
	}
	for _, p := range cfg.Plans {
		if s.enabled || !p.Paid {
			s.plans = append(s.plans, p)
		}
	}
	if !s.enabled {
		s.log.Info("billing off: no Stripe key configured, only free plans offered")
		return s, nil
	}
	s.api = newStripeAPI(cfg)
	s.codes = newCodeSigner(cfg.CodeSecret)
	s.cfg.PublicURL = strings.TrimRight(cfg.PublicURL, "/")
	if s.mail, err = newMailer(cfg); err != nil {
		return nil, err
	}
	if s.mail == nil {
		s.log.Warn("billing on but mail off: buyers see their access code only on the checkout success page")
	}
	return s, nil
}

// Enabled reports whether paid plans can be bought (a Stripe key is set).
func (s *Service) Enabled() bool { return s.enabled }

// Plans returns the plans offered, free ones first in configuration order.
func (s *Service) Plans() []Plan { return append([]Plan(nil), s.plans...) }

// Plan returns the offered plan with this id. Paid plans are not offered
// while billing is off.
func (s *Service) Plan(id string) (Plan, bool) {
	for _, p := range s.plans {
		if p.ID == id {
			return p, true
		}
	}
	return Plan{}, false
}

// FreePlan returns the first free plan; New guarantees there is one.
func (s *Service) FreePlan() Plan {
	for _, p := range s.plans {
		if !p.Paid {
			return p
		}
	}
	panic("billing: no free plan; New should have refused this config")
}

// Entitlement is what an access code grants right now.
type Entitlement struct {
	Plan     Plan
	Customer string // Stripe customer id: pass to RecordUsage, do not log
}

// LogValue keeps the customer id out of logs.
func (e Entitlement) LogValue() slog.Value {
	return slog.GroupValue(slog.String("plan", e.Plan.ID), slog.Any("customer", customerRef(e.Customer)))
}

// Entitlement checks an access code: its signature, then the subscription
// status in Stripe (cached for CacheTTL). The plan is the one the
// subscription currently pays for, so an upgrade in Stripe takes effect
// without a new code; the plan in the code is the fallback when the
// subscription's prices match no configured plan.
//
// Errors: ErrBillingDisabled, ErrBadAccessCode, ErrSubscriptionInactive,
// ErrStripeUnavailable (wrapped).
func (s *Service) Entitlement(ctx context.Context, accessCode string) (Entitlement, error) {
	if !s.enabled {
		return Entitlement{}, ErrBillingDisabled
	}
	customer, planID, err := s.codes.verify(accessCode)
	if err != nil {
		return Entitlement{}, err
	}
	st, err := s.subState(ctx, customer)
	if err != nil {
		return Entitlement{}, err
	}
	if !st.active {
		return Entitlement{}, ErrSubscriptionInactive
	}
	if st.planID != "" {
		planID = st.planID
	}
	p, ok := s.Plan(planID)
	if !ok || !p.Paid {
		return Entitlement{}, fmt.Errorf("%w: plan %q is no longer offered", ErrBadAccessCode, planID)
	}
	return Entitlement{Plan: p, Customer: customer}, nil
}

// subState returns the cached subscription state or asks Stripe.
func (s *Service) subState(ctx context.Context, customer string) (subState, error) {
	now := s.cfg.Now()
	st, ok, gen := s.subs.get(customer, now)
	var err error
	if ok {
		return st, nil
	}
	st, err = s.fetchSubState(ctx, customer)
	if err != nil {
		s.log.Warn("subscription lookup failed", "customer", customerRef(customer), "err", logErr{err})
		return subState{}, err
	}
	s.subs.put(customer, st, gen, s.cfg.Now())
	return st, nil
}

// IssueAccessCode returns the access code for a customer and paid plan. It
// is what the webhook mails; exported for operators' tools and tests.
func (s *Service) IssueAccessCode(customer, planID string) (string, error) {
	if !s.enabled {
		return "", ErrBillingDisabled
	}
	if p, ok := s.Plan(planID); !ok || !p.Paid {
		return "", fmt.Errorf("%w: %q is not a paid plan", ErrUnknownPlan, planID)
	}
	return s.codes.issue(customer, planID)
}
