package billing

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	stripe "github.com/stripe/stripe-go/v76"
	"github.com/stripe/stripe-go/v76/webhook"
)

const (
	// maxWebhookBody caps what is read from Stripe; real events are a few
	// KiB, and an unauthenticated peer must not make us buffer more.
	maxWebhookBody = 64 << 10
	// webhookWorkTimeout bounds the work one event may do (mail delivery).
	webhookWorkTimeout = 45 * time.Second
)

// errMalformedObject marks an event whose data object does not parse; a
// retry cannot fix it, so Stripe gets 400 rather than 500.
var errMalformedObject = errors.New("malformed event object")

type eventHandler func(ctx context.Context, ev stripe.Event) error

func (s *Service) eventHandlers() map[stripe.EventType]eventHandler {
	return map[stripe.EventType]eventHandler{
		"checkout.session.completed":    s.onCheckoutCompleted,
		"customer.subscription.updated": s.onSubscriptionChanged,
		"customer.subscription.deleted": s.onSubscriptionChanged,
		"invoice.payment_failed":        s.onPaymentFailed,
	}
}

// handleWebhook verifies and dispatches one Stripe event. Status codes tell
// Stripe what to do: 2xx done (including ignored and duplicate events), 400
// never retry, 5xx retry later.
func (s *Service) handleWebhook(w http.ResponseWriter, r *http.Request) {
	if !s.enabled {
		writeError(w, http.StatusServiceUnavailable, ErrBillingDisabled.Error())
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxWebhookBody))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			writeError(w, http.StatusRequestEntityTooLarge, "event body over 64 KiB")
			return
		}
		writeError(w, http.StatusBadRequest, "could not read body")
		return
	}
	// The API version check is off: we read a handful of long-stable fields
	// (ids, customer, status, metadata, customer e-mail), and refusing every
	// event after an account upgrade would stop access codes from being
	// issued. A mismatch is logged so an operator can pin the endpoint's
	// version.
	sig := r.Header.Get("Stripe-Signature")
	ev, err := webhook.ConstructEventWithOptions(body, sig, s.cfg.WebhookSecret,
		webhook.ConstructEventOptions{IgnoreAPIVersionMismatch: true, Tolerance: s.cfg.WebhookTolerance})
	if err == nil && signedInFuture(sig, time.Now(), s.cfg.WebhookTolerance) {
		err = webhook.ErrTooOld
	}
	if err != nil {
		s.log.Warn("webhook rejected", "reason", webhookRejectReason(err))
		writeError(w, http.StatusBadRequest, webhookRejectReason(err))
		return
	}
	if ev.APIVersion != "" && ev.APIVersion != stripe.APIVersion {
		s.log.Debug("webhook API version differs from the library's", "event_version", ev.APIVersion, "library_version", stripe.APIVersion)
	}
	s.dispatch(r.Context(), w, ev)
}

func (s *Service) dispatch(ctx context.Context, w http.ResponseWriter, ev stripe.Event) {
	h, ok := s.eventHandlers()[ev.Type]
	if !ok {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ignored"})
		return
	}
	if ev.ID == "" || ev.Data == nil {
		writeError(w, http.StatusBadRequest, "event without id or data")
		return
	}
	if !s.events.add(ev.ID) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "duplicate"})
		return
	}
	// Detached from the request: Stripe's 30 s delivery time-out must not
	// cut a mail half-sent.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), webhookWorkTimeout)
	defer cancel()
	if err := h(ctx, ev); err != nil {
		s.events.remove(ev.ID)
		s.log.Error("webhook event failed", "type", ev.Type, "event", ev.ID, "err", logErr{err})
		if errors.Is(err, errMalformedObject) {
			writeError(w, http.StatusBadRequest, "malformed event object")
			return
		}
		writeError(w, http.StatusInternalServerError, "event not processed; Stripe will retry")
		return
	}
	s.log.Info("webhook event handled", "type", ev.Type, "event", ev.ID)
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

// signedInFuture reports whether the signature's timestamp ("t=" in the
// Stripe-Signature header) lies more than tolerance ahead of now. Stripe's
// library refuses only old timestamps; one from the future would let a
// captured delivery be replayed for as long as its clock is ahead. Wall
// time, not Config.Now: Stripe signs with its real clock.
func signedInFuture(header string, now time.Time, tolerance time.Duration) bool {
	for _, part := range strings.Split(header, ",") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(part), "t="); ok {
			t, err := strconv.ParseInt(v, 10, 64)
			return err != nil || time.Unix(t, 0).After(now.Add(tolerance))
		}
	}
	return false // no timestamp: the signature check has already refused it
}

func webhookRejectReason(err error) string {
	switch {
	case errors.Is(err, webhook.ErrTooOld):
		return "signature timestamp outside tolerance"
	case errors.Is(err, webhook.ErrNotSigned):
		return "missing Stripe-Signature header"
	case errors.Is(err, webhook.ErrInvalidHeader), errors.Is(err, webhook.ErrNoValidSignature):
		return "invalid signature"
	}
	return "malformed event"
}

func (s *Service) onCheckoutCompleted(ctx context.Context, ev stripe.Event) error {
	var cs stripe.CheckoutSession
	if err := json.Unmarshal(ev.Data.Raw, &cs); err != nil {
		return errors.Join(errMalformedObject, err)
	}
	if cs.Mode != stripe.CheckoutSessionModeSubscription {
		return nil // not one of ours (e.g. a payment link sold elsewhere)
	}
	if cs.Customer == nil || cs.Customer.ID == "" {
		return errors.Join(errMalformedObject, errors.New("checkout session without customer"))
	}
	planID := cs.Metadata[metadataPlanKey]
	code, err := s.IssueAccessCode(cs.Customer.ID, planID)
	if err != nil {
		// A plan this server does not offer (sold elsewhere, or removed
		// from the config): a retry cannot change that.
		s.log.Warn("checkout completed but no code issued: plan not offered here", "plan", planID, "customer", customerRef(cs.Customer.ID), "err", logErr{err})
		return nil
	}
	s.subs.invalidate(cs.Customer.ID)
	email := ""
	if cs.CustomerDetails != nil {
		email = cs.CustomerDetails.Email
	}
	if s.mail == nil || email == "" {
		s.log.Info("access code issued, not mailed", "customer", customerRef(cs.Customer.ID), "mail_configured", s.mail != nil)
		return nil
	}
	p, _ := s.Plan(planID)
	subject, body := accessCodeMail(p.Name, code, s.cfg.PublicURL)
	if err := s.mail.send(ctx, email, subject, body); err != nil {
		return err
	}
	s.log.Info("access code mailed", "customer", customerRef(cs.Customer.ID), "to", secret(email))
	return nil
}

// onSubscriptionChanged covers plan changes, cancellations and renewals:
// the cached state is dropped and the next Entitlement asks Stripe.
func (s *Service) onSubscriptionChanged(_ context.Context, ev stripe.Event) error {
	var sub stripe.Subscription
	if err := json.Unmarshal(ev.Data.Raw, &sub); err != nil {
		return errors.Join(errMalformedObject, err)
	}
	if sub.Customer == nil || sub.Customer.ID == "" {
		return errors.Join(errMalformedObject, errors.New("subscription without customer"))
	}
	s.subs.invalidate(sub.Customer.ID)
	s.log.Info("subscription changed", "customer", customerRef(sub.Customer.ID), "status", sub.Status)
	return nil
}

// onPaymentFailed only refreshes the cache: Stripe moves the subscription
// to past_due (still entitled while it retries) and later to unpaid or
// canceled, which the next lookup sees.
func (s *Service) onPaymentFailed(_ context.Context, ev stripe.Event) error {
	var inv stripe.Invoice
	if err := json.Unmarshal(ev.Data.Raw, &inv); err != nil {
		return errors.Join(errMalformedObject, err)
	}
	if inv.Customer == nil || inv.Customer.ID == "" {
		return nil
	}
	s.subs.invalidate(inv.Customer.ID)
	s.log.Warn("invoice payment failed", "customer", customerRef(inv.Customer.ID), "attempt", inv.AttemptCount)
	return nil
}
