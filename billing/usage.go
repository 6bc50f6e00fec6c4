package billing

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"sync"
	"time"

	stripe "github.com/stripe/stripe-go/v76"
)

// Back-off for usage reports that failed: 5 s, 10 s, 20 s ... capped at
// 10 minutes. Run only retries a report once its back-off has passed; Flush
// (server drain) tries every pending report at once.
const (
	retryBaseDelay = 5 * time.Second
	retryMaxDelay  = 10 * time.Minute
)

// usageReport is one usage record on its way to Stripe. Once created its
// quantity and idempotency key never change, so however often it is
// retried Stripe counts it once.
type usageReport struct {
	customer  string
	minutes   int64
	key       string
	attempts  int
	notBefore time.Time
}

// meter sums connection time per customer and turns it into reports.
//
// Rounding: each report carries the pending time rounded UP to whole
// minutes, and the part of the minute charged in advance is kept as a
// credit against the customer's next usage. So a customer is never billed
// for more than their real total plus less than one minute, however many
// reports there are.
type meter struct {
	mu      sync.Mutex
	acc     map[string]time.Duration // may be negative: prepaid credit
	pending map[string]*usageReport  // at most one in flight per customer
	flushMu sync.Mutex               // one flush at a time
	dropped int64                    // minutes Stripe refused permanently
}

func newMeter() *meter {
	return &meter{acc: make(map[string]time.Duration), pending: make(map[string]*usageReport)}
}

func (m *meter) record(customer string, d time.Duration) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.acc[customer] += d
}

// due turns accumulated time into reports for customers with none pending
// and returns the reports to send now.
func (m *meter) due(now time.Time, force bool) ([]*usageReport, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for c, d := range m.acc {
		if _, busy := m.pending[c]; busy || d <= 0 {
			continue
		}
		key, err := newIdempotencyKey()
		if err != nil {
			return nil, err
		}
		minutes := int64((d + time.Minute - 1) / time.Minute)
		m.pending[c] = &usageReport{customer: c, minutes: minutes, key: key}
		if rest := d - time.Duration(minutes)*time.Minute; rest != 0 {
			m.acc[c] = rest
		} else {
			delete(m.acc, c)
		}
	}
	var out []*usageReport
	for _, r := range m.pending {
		if force || !now.Before(r.notBefore) {
			out = append(out, r)
		}
	}
	return out, nil
}

// done removes a report that Stripe accepted (or refused for good).
func (m *meter) done(r *usageReport) {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.pending, r.customer)
}

func (m *meter) failed(r *usageReport, now time.Time) {
	m.mu.Lock()
	defer m.mu.Unlock()
	r.attempts++
	delay := retryBaseDelay << min(r.attempts-1, 16)
	r.notBefore = now.Add(min(delay, retryMaxDelay))
}

func newIdempotencyKey() (string, error) {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", err
	}
	return "meet-usage-" + hex.EncodeToString(b[:]), nil
}

// RecordUsage adds connection time for a customer of a paid plan. The
// server calls it when a participant of a paid room leaves; free rooms
// never call it. It does no I/O.
func (s *Service) RecordUsage(customer string, d time.Duration) {
	if !s.enabled || customer == "" || d <= 0 {
		return
	}
	s.meter.record(customer, d)
}

// Flush reports all pending usage to Stripe now, ignoring back-off (for
// server drain). Reports that fail stay in memory for the next attempt.
func (s *Service) Flush(ctx context.Context) error {
	return s.flush(ctx, true)
}

// Run flushes every FlushInterval until ctx is done, then returns nil.
// Call Flush afterwards to report what accumulated since the last tick.
func (s *Service) Run(ctx context.Context) error {
	t := time.NewTicker(s.cfg.FlushInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
			if err := s.flush(ctx, false); err != nil {
				s.log.Warn("usage report failed, will retry", "err", logErr{err})
			}
		}
	}
}

func (s *Service) flush(ctx context.Context, force bool) error {
	if !s.enabled {
		return nil
	}
	s.meter.flushMu.Lock()
	defer s.meter.flushMu.Unlock()
	reports, err := s.meter.due(s.cfg.Now(), force)
	if err != nil {
		return err
	}
	var errs []error
	for _, r := range reports {
		if ctx.Err() != nil {
			errs = append(errs, ctx.Err())
			break
		}
		if err := s.send(ctx, r); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// send delivers one report and settles it: done on success or permanent
// refusal, back-off on anything else.
func (s *Service) send(ctx context.Context, r *usageReport) error {
	item, err := s.meteredItem(ctx, r.customer)
	if err == nil && item == "" {
		s.dropReport(r, "no active subscription with a metered price")
		return nil
	}
	if err == nil {
		params := &stripe.UsageRecordParams{
			SubscriptionItem: stripe.String(item),
			Quantity:         stripe.Int64(r.minutes),
			Action:           stripe.String(stripe.UsageRecordActionIncrement),
			TimestampNow:     stripe.Bool(true),
		}
		params.Context = ctx
		params.SetIdempotencyKey(r.key)
		_, err = s.api.UsageRecords.New(params)
	}
	switch {
	case err == nil:
		s.meter.done(r)
		s.log.Debug("usage reported", "customer", customerRef(r.customer), "minutes", r.minutes)
		return nil
	case permanentStripeErr(err) && r.attempts > 0:
		s.dropReport(r, scrub(err.Error()))
		return nil
	case permanentStripeErr(err):
		// Perhaps the plan changed and the cached item is gone: look it up
		// again once. Stripe saved no result for a refused request, so a
		// fresh key cannot double-count, and it must be fresh because the
		// item in the request may change.
		s.subs.invalidate(r.customer)
		if key, kerr := newIdempotencyKey(); kerr == nil {
			r.key = key
		}
		s.meter.failed(r, s.cfg.Now())
		return fmt.Errorf("billing: usage report of %d min refused, will retry once: %w", r.minutes, err)
	default:
		s.meter.failed(r, s.cfg.Now())
		return fmt.Errorf("billing: usage report of %d min: %w", r.minutes, stripeErr(err))
	}
}

func (s *Service) dropReport(r *usageReport, why string) {
	s.meter.done(r)
	s.meter.mu.Lock()
	s.meter.dropped += r.minutes
	s.meter.mu.Unlock()
	s.log.Error("usage not billable, dropped", "customer", customerRef(r.customer), "minutes", r.minutes, "reason", why)
}

// meteredItem finds the subscription item that carries the plan's metered
// price, through the same cache as Entitlement.
func (s *Service) meteredItem(ctx context.Context, customer string) (string, error) {
	st, err := s.subState(ctx, customer)
	if err != nil {
		return "", err
	}
	if !st.active {
		return "", nil
	}
	return st.meteredItem, nil
}

// PendingUsage returns the minutes waiting to be reported and the minutes
// dropped because Stripe refused them; for metrics and drain logs.
func (s *Service) PendingUsage() (pendingMinutes, droppedMinutes int64) {
	s.meter.mu.Lock()
	defer s.meter.mu.Unlock()
	for _, r := range s.meter.pending {
		pendingMinutes += r.minutes
	}
	for _, d := range s.meter.acc {
		if d > 0 {
			pendingMinutes += int64((d + time.Minute - 1) / time.Minute)
		}
	}
	return pendingMinutes, s.meter.dropped
}
