package billing

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"github.com/monkeythorn/meet/internal/leaktest"
	"net/http"
	"strings"
	"testing"
	"time"
)

// subscriptionStatus rewrites stripe-mock's subscription list (always
// "active") to the given status.
func subscriptionStatus(status string) func(string, int, []byte) (int, []byte) {
	return func(path string, code int, body []byte) (int, []byte) {
		if path != "/v1/subscriptions" {
			return code, body
		}
		var list map[string]any
		if err := json.Unmarshal(body, &list); err != nil {
			return code, body
		}
		for _, s := range list["data"].([]any) {
			s.(map[string]any)["status"] = status
		}
		b, _ := json.Marshal(list)
		return code, b
	}
}

func TestEntitlement(t *testing.T) {
	leaktest.Check(t)
	h := newHarness(t, nil)
	code, err := h.svc.IssueAccessCode(h.fx.Customer, "pro")
	if err != nil {
		t.Fatal(err)
	}
	ent, err := h.svc.Entitlement(t.Context(), code)
	if err != nil || ent.Plan.ID != "pro" || ent.Customer != h.fx.Customer || ent.Plan.MaxParticipants != ProMaxParticipants {
		t.Fatalf("Entitlement = %+v, %v", ent, err)
	}
	subs := h.rec.Requests("/v1/subscriptions")
	if len(subs) != 1 || subs[0].Form.Get("customer") != h.fx.Customer || subs[0].Form.Get("status") != "all" {
		t.Fatalf("subscription lookups: %+v", subs)
	}

	// Cached: a second check within CacheTTL does not ask Stripe.
	if _, err := h.svc.Entitlement(t.Context(), strings.ToLower(code)); err != nil {
		t.Fatal(err)
	}
	if n := len(h.rec.Requests("/v1/subscriptions")); n != 1 {
		t.Fatalf("%d lookups after a cached check, want 1", n)
	}

	// Cancellation arrives by webhook: the cache is dropped and the next
	// check sees the canceled subscription.
	h.rec.SetRewrite(subscriptionStatus("canceled"))
	p := eventJSON(t, "evt_del", "customer.subscription.deleted", subscriptionEvent(h.fx.Customer, "canceled"))
	if code, body := h.postWebhook(t, p, signed(p, testWebhookSecret, time.Now())); code != 200 {
		t.Fatalf("webhook %d %s", code, body)
	}
	if _, err := h.svc.Entitlement(t.Context(), code); !errors.Is(err, ErrSubscriptionInactive) {
		t.Fatalf("after cancellation err = %v, want ErrSubscriptionInactive", err)
	}
	if n := len(h.rec.Requests("/v1/subscriptions")); n != 2 {
		t.Fatalf("%d lookups, want 2", n)
	}

	// Renewed without a webhook (missed delivery): the TTL bounds how long
	// the stale answer lives.
	h.rec.SetRewrite(nil)
	h.clock.Advance(DefaultCacheTTL + time.Second)
	if _, err := h.svc.Entitlement(t.Context(), code); err != nil {
		t.Fatalf("after TTL: %v", err)
	}
}

func TestEntitlementStatuses(t *testing.T) {
	leaktest.Check(t)
	for _, tc := range []struct {
		status string
		want   error
	}{
		{"active", nil}, {"trialing", nil}, {"past_due", nil},
		{"canceled", ErrSubscriptionInactive}, {"unpaid", ErrSubscriptionInactive},
		{"incomplete", ErrSubscriptionInactive}, {"incomplete_expired", ErrSubscriptionInactive},
		{"paused", ErrSubscriptionInactive},
	} {
		t.Run(tc.status, func(t *testing.T) {
			h := newHarness(t, nil)
			h.rec.SetRewrite(subscriptionStatus(tc.status))
			code, _ := h.svc.IssueAccessCode(h.fx.Customer, "pro")
			if _, err := h.svc.Entitlement(t.Context(), code); !errors.Is(err, tc.want) {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
		})
	}
}

func TestEntitlementErrors(t *testing.T) {
	leaktest.Check(t)
	h := newHarness(t, nil)
	code, _ := h.svc.IssueAccessCode(h.fx.Customer, "pro")
	if _, err := h.svc.Entitlement(t.Context(), "AAAAA-BBBBB"); !errors.Is(err, ErrBadAccessCode) {
		t.Errorf("garbage: %v", err)
	}
	if n := len(h.rec.Requests("")); n != 0 {
		t.Errorf("a bad code cost %d Stripe requests", n)
	}
	h.rec.Fail.Store(true)
	if _, err := h.svc.Entitlement(t.Context(), code); !errors.Is(err, ErrStripeUnavailable) {
		t.Errorf("Stripe down: %v", err)
	}
	h.rec.Fail.Store(false)
	if _, err := h.svc.Entitlement(t.Context(), code); err != nil {
		t.Errorf("errors must not be cached: %v", err)
	}
	if strings.Contains(h.logs.String(), h.fx.Customer) {
		t.Errorf("customer id logged:\n%s", h.logs)
	}
}

// A code issued by one Service verifies with a new Service (a restart) that
// has the same CodeSecret, and with no other.
func TestAccessCodeSurvivesRestart(t *testing.T) {
	leaktest.Check(t)
	first := newHarness(t, nil)
	code, err := first.svc.IssueAccessCode(first.fx.Customer, "pro")
	if err != nil {
		t.Fatal(err)
	}
	restarted := newHarness(t, func(c *Config) { c.CodeSecret = append([]byte(nil), testCodeSecret...) })
	if ent, err := restarted.svc.Entitlement(t.Context(), code); err != nil || ent.Customer != first.fx.Customer {
		t.Fatalf("after restart: %+v, %v", ent, err)
	}
	other := newHarness(t, func(c *Config) { c.CodeSecret = []byte("a-different-secret-32-bytes-long") })
	if _, err := other.svc.Entitlement(t.Context(), code); !errors.Is(err, ErrBadAccessCode) {
		t.Fatalf("other secret: %v", err)
	}
}

// The plan comes from what the subscription pays for now: a customer who
// moved to another plan in Stripe gets it with the old code.
func TestEntitlementFollowsPlanChange(t *testing.T) {
	leaktest.Check(t)
	h := newHarness(t, func(c *Config) {
		c.Plans = append(c.Plans, Plan{ID: "team", Name: "Team", Paid: true, MaxParticipants: 100, PriceID: h0Price})
		c.Plans[1].MeteredPriceID = "price_not_in_fixture"
	})
	code, _ := h.svc.IssueAccessCode(h.fx.Customer, "pro")
	h.rec.SetRewrite(func(path string, status int, body []byte) (int, []byte) {
		return status, bytes.ReplaceAll(body, []byte(h.fx.Price), []byte(h0Price))
	})
	ent, err := h.svc.Entitlement(t.Context(), code)
	if err != nil || ent.Plan.ID != "team" {
		t.Fatalf("Entitlement = %+v, %v; want team", ent, err)
	}
}

const h0Price = "price_team_flat"

func TestEntitlementDeletedCustomerIsInactive(t *testing.T) {
	leaktest.Check(t)
	h := newHarness(t, nil)
	h.rec.SetRewrite(func(path string, status int, body []byte) (int, []byte) {
		if path == "/v1/subscriptions" {
			return http.StatusNotFound, []byte(`{"error":{"type":"invalid_request_error","code":"resource_missing","message":"No such customer: 'cus_gone'"}}`)
		}
		return status, body
	})
	code, _ := h.svc.IssueAccessCode("cus_gone", "pro")
	if _, err := h.svc.Entitlement(t.Context(), code); !errors.Is(err, ErrSubscriptionInactive) {
		t.Fatalf("deleted customer: %v", err)
	}
}

func BenchmarkEntitlementCached(b *testing.B) {
	s, err := New(Config{StripeKey: "sk_test_x", WebhookSecret: "whsec_x", PublicURL: "https://m.test", CodeSecret: testCodeSecret,
		Plans: []Plan{{ID: "free", Name: "Free"}, {ID: "pro", Name: "Pro", Paid: true, PriceID: "price_x"}}})
	if err != nil {
		b.Fatal(err)
	}
	code, _ := s.IssueAccessCode("cus_Nj5B57LZqvnaIg", "pro")
	_, _, gen := s.subs.get("cus_Nj5B57LZqvnaIg", time.Now())
	s.subs.put("cus_Nj5B57LZqvnaIg", subState{active: true, planID: "pro"}, gen, time.Now())
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := s.Entitlement(ctx, code); err != nil {
			b.Fatal(err)
		}
	}
}
