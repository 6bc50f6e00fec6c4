package server

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/monkeythorn/meet/billing"
)

// codeSecretLabel separates the access-code key from the token key: both
// come from Config.Secret, so one secret to keep the same across restarts
// and nodes is enough, and neither MAC can stand in for the other.
const codeSecretLabel = "monkeythorn-meet server: billing access-code key v1"

// billingCodeSecret derives billing.Config.CodeSecret from the server
// secret. It is deterministic on purpose: a code mailed before a restart
// must verify after it.
func billingCodeSecret(secret []byte) []byte {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(codeSecretLabel))
	return m.Sum(nil)
}

// usageRecorder is the one call metering makes; *billing.Service has it.
type usageRecorder interface {
	RecordUsage(customer string, d time.Duration)
}

// setupBilling builds the billing service when a Stripe key is configured;
// it starts nothing (registerBilling does). Billing off leaves s.billing nil:
// rooms then have no plan limits and nothing is tracked at all.
func (s *Server) setupBilling() error {
	bc := s.cfg.Billing
	if bc.StripeKey == "" {
		return nil
	}
	if bc.CodeSecret == nil {
		bc.CodeSecret = billingCodeSecret(s.cfg.Secret)
	}
	if bc.PublicURL == "" {
		bc.PublicURL = s.cfg.PublicURL
	}
	if bc.PublicURL == "" {
		return fmt.Errorf("%w: billing needs the public URL (--public-url): Stripe Checkout sends buyers back to it", ErrConfig)
	}
	if bc.Logger == nil {
		bc.Logger = s.log
	}
	svc, err := billing.New(bc)
	if err != nil {
		return fmt.Errorf("%w: %v", ErrConfig, err)
	}
	var usage usageRecorder = svc
	if s.cfg.wrapUsage != nil {
		usage = s.cfg.wrapUsage(usage)
	}
	s.billing = &billingWiring{svc: svc, usage: usage, log: s.log.With("component", "plans")}
	return nil
}

// registerBilling adds the billing routes and starts the periodic usage
// flush; called from routes, once New can no longer fail. With billing off
// nothing is registered, so /api/plans, /api/checkout and the webhook
// answer 404 and the page hides paid features.
func (s *Server) registerBilling() {
	b := s.billing
	if b == nil {
		return
	}
	b.svc.Register(s.mux)
	ctx, cancel := context.WithCancel(context.Background())
	b.stopRun, b.runDone = cancel, make(chan struct{})
	go func() {
		defer close(b.runDone)
		_ = b.svc.Run(ctx)
	}()
}

// shutdownBilling runs after the SFU has closed every participant, so the
// connection time of all of them is recorded: it stops the periodic flush
// and reports what is pending to Stripe. Usage that cannot be reported is lost
// with the process (nothing is written to disk), so the error says how much.
func (s *Server) shutdownBilling(ctx context.Context) error {
	b := s.billing
	if b == nil {
		return nil
	}
	var errs []error
	b.stopRun()
	select {
	case <-b.runDone:
	case <-ctx.Done():
	}
	if err := b.svc.Flush(ctx); err != nil {
		pending, _ := b.svc.PendingUsage()
		errs = append(errs, fmt.Errorf("server: %d participant-minutes not reported to Stripe: %w", pending, err))
	}
	return errors.Join(errs...)
}

// planInfo is the public form of a plan in /api/rooms and /api/token
// answers, so the page can say what a meeting allows.
type planInfo struct {
	ID                 string `json:"id"`
	Name               string `json:"name"`
	MaxParticipants    int    `json:"maxParticipants"`    // 0 = no plan limit
	MaxDurationSeconds int64  `json:"maxDurationSeconds"` // 0 = no plan limit
}

func newPlanInfo(p billing.Plan) *planInfo {
	return &planInfo{ID: p.ID, Name: p.Name, MaxParticipants: p.MaxParticipants, MaxDurationSeconds: int64(p.MaxDuration / time.Second)}
}

// Error codes of access-code failures.
const (
	codeBillingOff   = "billing-off"
	codeBadAccess    = "bad-access-code"
	codeInactive     = "subscription-inactive"
	codeStripeDown   = "payment-provider-unavailable"
	maxAccessCodeLen = 256 // real codes are ~60 characters
)

// entitlement resolves an optional access code from an API request. An
// empty code is a free meeting (ok, zero Entitlement). A code that does not
// grant a paid plan gets a JSON error saying what to do, and ok false.
func (s *Server) entitlement(w http.ResponseWriter, r *http.Request, code string) (billing.Entitlement, bool) {
	code = strings.TrimSpace(code)
	if code == "" {
		return billing.Entitlement{}, true
	}
	if s.billing == nil {
		writeError(w, http.StatusNotFound, codeBillingOff, "this server sells no paid plans; leave the access code out")
		return billing.Entitlement{}, false
	}
	if len(code) > maxAccessCodeLen {
		writeError(w, http.StatusForbidden, codeBadAccess, "the access code is not valid; paste it again from the e-mail or the checkout page")
		return billing.Entitlement{}, false
	}
	ent, err := s.billing.svc.Entitlement(r.Context(), code)
	switch {
	case err == nil:
		return ent, true
	case errors.Is(err, billing.ErrBadAccessCode):
		writeError(w, http.StatusForbidden, codeBadAccess, "the access code is not valid; paste it again from the e-mail or the checkout page")
	case errors.Is(err, billing.ErrSubscriptionInactive):
		writeError(w, http.StatusPaymentRequired, codeInactive, "the subscription behind this access code is not active; renew it, or start a free meeting without the code")
	case errors.Is(err, billing.ErrStripeUnavailable):
		writeError(w, http.StatusServiceUnavailable, codeStripeDown, "the access code cannot be checked right now; try again in a minute, or start a free meeting without it")
	default:
		s.log.Error("checking access code", "err", err)
		writeError(w, http.StatusServiceUnavailable, codeStripeDown, "the access code cannot be checked right now; try again in a minute")
	}
	return billing.Entitlement{}, false
}

// paidTokenFields returns what a token request with this entitlement puts
// in the token: plan and customer for a paid plan, nothing for free.
func paidTokenFields(ent billing.Entitlement) (plan, customer string, info *planInfo) {
	if ent.Customer == "" || !ent.Plan.Paid {
		return "", "", nil
	}
	return ent.Plan.ID, ent.Customer, newPlanInfo(ent.Plan)
}
