package billing

import (
	"context"
	"encoding/json"
	"github.com/monkeythorn/meet/billing/billingtest"
	"github.com/monkeythorn/meet/internal/leaktest"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"
)

func usageRequests(h *harness) []billingtest.StripeCall { return h.rec.Requests("/usage_records") }

func quantity(t *testing.T, r billingtest.StripeCall) int64 {
	t.Helper()
	q, err := strconv.ParseInt(r.Form.Get("quantity"), 10, 64)
	if err != nil {
		t.Fatalf("usage record without quantity: %v", r.Form)
	}
	return q
}

func TestFlushReportsRoundedMinutesOnce(t *testing.T) {
	leaktest.Check(t)
	h := newHarness(t, nil)
	h.svc.RecordUsage(h.fx.Customer, 90*time.Second)
	h.svc.RecordUsage(h.fx.Customer, 45*time.Second) // 135 s in total
	if err := h.svc.Flush(t.Context()); err != nil {
		t.Fatal(err)
	}
	reqs := usageRequests(h)
	if len(reqs) != 1 {
		t.Fatalf("%d usage requests, want 1", len(reqs))
	}
	r := reqs[0]
	if r.Method != http.MethodPost || r.Path != "/v1/subscription_items/"+h.fx.Item+"/usage_records" {
		t.Fatalf("request %s %s", r.Method, r.Path)
	}
	if quantity(t, r) != 3 || r.Form.Get("action") != "increment" || r.Form.Get("timestamp") != "now" || r.IdempotencyKey == "" {
		t.Fatalf("usage record %v key %q; want 3 minutes (135 s rounded up), increment", r.Form, r.IdempotencyKey)
	}
	if err := h.svc.Flush(t.Context()); err != nil {
		t.Fatal(err)
	}
	if n := len(usageRequests(h)); n != 1 {
		t.Fatalf("second flush sent again: %d requests", n)
	}
	if p, d := h.svc.PendingUsage(); p != 0 || d != 0 {
		t.Fatalf("pending %d dropped %d", p, d)
	}
}

// Rounding up per report keeps the over-charge as credit: 135 s is billed
// as 3 min (45 s credit), so 30 s more is covered and sends nothing, and
// 60 s after that (45 s net) is 1 min.
func TestUsageRoundingCarriesCredit(t *testing.T) {
	leaktest.Check(t)
	h := newHarness(t, nil)
	steps := []struct {
		add  time.Duration
		want []int64 // quantities of all usage records so far
	}{
		{135 * time.Second, []int64{3}},
		{30 * time.Second, []int64{3}},
		{60 * time.Second, []int64{3, 1}},
		{0, []int64{3, 1}},
		{2 * time.Minute, []int64{3, 1, 2}},
	}
	for i, st := range steps {
		h.svc.RecordUsage(h.fx.Customer, st.add)
		if err := h.svc.Flush(t.Context()); err != nil {
			t.Fatal(err)
		}
		var got []int64
		keys := map[string]bool{}
		for _, r := range usageRequests(h) {
			got = append(got, quantity(t, r))
			keys[r.IdempotencyKey] = true
		}
		if len(keys) != len(got) || jsonInts(got) != jsonInts(st.want) {
			t.Fatalf("step %d: records %v (%d keys), want %v", i, got, len(keys), st.want)
		}
	}
}

func jsonInts(v []int64) string { b, _ := json.Marshal(v); return string(b) }

func TestFlushWithNothingRecordedSendsNothing(t *testing.T) {
	leaktest.Check(t)
	h := newHarness(t, nil)
	h.svc.RecordUsage(h.fx.Customer, 0)
	h.svc.RecordUsage(h.fx.Customer, -time.Minute)
	h.svc.RecordUsage("", time.Minute)
	if err := h.svc.Flush(t.Context()); err != nil {
		t.Fatal(err)
	}
	if n := len(h.rec.Requests("")); n != 0 {
		t.Fatalf("flush with no usage made %d Stripe requests", n)
	}
	off, _ := New(Config{})
	off.RecordUsage("cus_x", time.Hour)
	if err := off.Flush(t.Context()); err != nil {
		t.Fatal(err)
	}
	if p, _ := off.PendingUsage(); p != 0 {
		t.Fatalf("billing off kept %d pending minutes", p)
	}
}

// A failed report is retried with the same quantity and idempotency key;
// usage recorded meanwhile becomes its own report; nothing is doubled.
func TestFlushRetriesFailedReportOnce(t *testing.T) {
	leaktest.Check(t)
	h := newHarness(t, nil)
	h.svc.RecordUsage(h.fx.Customer, 5*time.Minute)
	h.rec.Fail.Store(true)
	if err := h.svc.Flush(t.Context()); err == nil {
		t.Fatal("flush against a failing Stripe reported success")
	}
	if p, _ := h.svc.PendingUsage(); p != 5 {
		t.Fatalf("pending after failure = %d min, want 5", p)
	}
	h.svc.RecordUsage(h.fx.Customer, 2*time.Minute)
	h.rec.Fail.Store(false)
	if err := h.svc.Flush(t.Context()); err != nil {
		t.Fatal(err)
	}
	if err := h.svc.Flush(t.Context()); err != nil {
		t.Fatal(err)
	}
	// Attempts on the usage endpoint only; the failed subscription
	// lookup happened first and never reached it.
	var ok []billingtest.StripeCall
	for _, r := range usageRequests(h) {
		if !r.Failed {
			ok = append(ok, r)
		}
	}
	if len(ok) != 2 || quantity(t, ok[0]) != 5 || quantity(t, ok[1]) != 2 || ok[0].IdempotencyKey == ok[1].IdempotencyKey {
		t.Fatalf("delivered reports %+v; want 5 min then 2 min with distinct keys", ok)
	}
	if p, _ := h.svc.PendingUsage(); p != 0 {
		t.Fatalf("pending %d after delivery", p)
	}
}

// The failure this time is on the usage request itself (the item lookup
// was cached), so the retry must carry the key of the failed attempt.
func TestUsageRetryReusesIdempotencyKey(t *testing.T) {
	leaktest.Check(t)
	h := newHarness(t, nil)
	code, _ := h.svc.IssueAccessCode(h.fx.Customer, "pro")
	if _, err := h.svc.Entitlement(t.Context(), code); err != nil { // warm the cache
		t.Fatal(err)
	}
	h.svc.RecordUsage(h.fx.Customer, 61*time.Second)
	h.rec.Fail.Store(true)
	if err := h.svc.Flush(t.Context()); err == nil {
		t.Fatal("want failure")
	}
	h.rec.Fail.Store(false)
	if err := h.svc.Flush(t.Context()); err != nil {
		t.Fatal(err)
	}
	reqs := usageRequests(h)
	if len(reqs) != 2 || !reqs[0].Failed || reqs[1].Failed {
		t.Fatalf("attempts %+v; want one failed then one delivered", reqs)
	}
	if reqs[0].IdempotencyKey == "" || reqs[0].IdempotencyKey != reqs[1].IdempotencyKey || quantity(t, reqs[1]) != 2 || reqs[0].Form.Get("quantity") != "2" {
		t.Fatalf("retry changed the report: %+v", reqs)
	}
}

// Run respects back-off; Flush (drain) does not.
func TestRunBacksOffAfterFailure(t *testing.T) {
	leaktest.Check(t)
	h := newHarness(t, nil)
	h.svc.RecordUsage(h.fx.Customer, time.Minute)
	h.rec.Fail.Store(true)
	if err := h.svc.flush(t.Context(), false); err == nil {
		t.Fatal("want failure")
	}
	h.rec.Fail.Store(false)
	before := len(h.rec.Requests(""))
	h.clock.Advance(retryBaseDelay / 2)
	if err := h.svc.flush(t.Context(), false); err != nil {
		t.Fatal(err)
	}
	if n := len(h.rec.Requests("")); n != before {
		t.Fatalf("retried inside the back-off window (%d requests)", n-before)
	}
	h.clock.Advance(retryBaseDelay)
	if err := h.svc.flush(t.Context(), false); err != nil {
		t.Fatal(err)
	}
	if n := len(usageRequests(h)); n != 1 {
		t.Fatalf("%d usage requests after back-off, want 1", n)
	}
}

func TestRunFlushesPeriodicallyAndStops(t *testing.T) {
	leaktest.Check(t)
	h := newHarness(t, func(c *Config) { c.FlushInterval = minFlushInterval })
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- h.svc.Run(ctx) }()
	h.svc.RecordUsage(h.fx.Customer, 10*time.Second)
	deadline := time.Now().Add(5 * time.Second)
	for len(usageRequests(h)) == 0 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Run returned %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not stop")
	}
	if reqs := usageRequests(h); len(reqs) != 1 || quantity(t, reqs[0]) != 1 {
		t.Fatalf("Run reported %+v; want one record of 1 min", reqs)
	}
}

// Stripe refusing the record (a 4xx) is retried once with a fresh lookup
// and key, then dropped and counted instead of retried forever.
func TestUsageRefusedIsDroppedAfterOneRetry(t *testing.T) {
	leaktest.Check(t)
	h := newHarness(t, nil)
	h.rec.SetRewrite(func(path string, status int, body []byte) (int, []byte) {
		if strings.HasSuffix(path, "/usage_records") {
			return http.StatusBadRequest, []byte(`{"error":{"type":"invalid_request_error","message":"No such subscription item"}}`)
		}
		return status, body
	})
	h.svc.RecordUsage(h.fx.Customer, 3*time.Minute)
	if err := h.svc.Flush(t.Context()); err == nil {
		t.Fatal("first refusal should be reported")
	}
	if err := h.svc.Flush(t.Context()); err != nil {
		t.Fatalf("second refusal should drop, got %v", err)
	}
	reqs := usageRequests(h)
	if len(reqs) != 2 || reqs[0].IdempotencyKey == reqs[1].IdempotencyKey {
		t.Fatalf("attempts %+v", reqs)
	}
	if n := len(h.rec.Requests("/v1/subscriptions")); n != 2 {
		t.Fatalf("%d subscription lookups, want 2 (cache invalidated after refusal)", n)
	}
	if p, d := h.svc.PendingUsage(); p != 0 || d != 3 {
		t.Fatalf("pending %d dropped %d, want 0 and 3", p, d)
	}
}

func TestUsageForInactiveSubscriptionIsDropped(t *testing.T) {
	leaktest.Check(t)
	h := newHarness(t, nil)
	h.rec.SetRewrite(subscriptionStatus("canceled"))
	h.svc.RecordUsage(h.fx.Customer, time.Minute)
	if err := h.svc.Flush(t.Context()); err != nil {
		t.Fatal(err)
	}
	if n := len(usageRequests(h)); n != 0 {
		t.Fatalf("%d usage records for a canceled subscription", n)
	}
	if _, d := h.svc.PendingUsage(); d != 1 {
		t.Fatalf("dropped %d, want 1", d)
	}
}

func BenchmarkRecordUsage(b *testing.B) {
	s, err := New(Config{StripeKey: "sk_test_x", WebhookSecret: "whsec_x", PublicURL: "https://m.test", CodeSecret: testCodeSecret,
		Plans: []Plan{{ID: "free", Name: "Free"}, {ID: "pro", Name: "Pro", Paid: true, PriceID: "price_x"}}})
	if err != nil {
		b.Fatal(err)
	}
	customers := []string{"cus_a", "cus_b", "cus_c", "cus_d"}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		s.RecordUsage(customers[i&3], time.Second)
		i++
	}
}
