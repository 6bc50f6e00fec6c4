package billing

import "errors"

// Errors callers branch on. Messages say what to do next where there is
// something to do.
var (
	// ErrBadAccessCode means the code is malformed, was not issued with this
	// server's CodeSecret, or names a plan this server does not offer.
	ErrBadAccessCode = errors.New("billing: access code is not valid; check it was pasted completely")
	// ErrSubscriptionInactive means the code is genuine but Stripe reports no
	// active subscription for its customer (cancelled, unpaid or expired).
	ErrSubscriptionInactive = errors.New("billing: the subscription behind this access code is not active; renew it to use the paid plan")
	// ErrBillingDisabled is returned when no Stripe key is configured.
	ErrBillingDisabled = errors.New("billing: paid plans are not enabled on this server")
	// ErrStripeUnavailable wraps failures to reach Stripe; the caller may
	// retry later.
	ErrStripeUnavailable = errors.New("billing: payment provider unavailable, try again in a minute")
	// ErrInvalidConfig wraps every Config validation failure of New.
	ErrInvalidConfig = errors.New("billing: invalid config")
	// ErrUnknownPlan is returned for a plan id that is not configured.
	ErrUnknownPlan = errors.New("billing: unknown plan")
)
