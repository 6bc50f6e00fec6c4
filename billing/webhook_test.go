package billing

import (
	"bytes"
	"encoding/json"
	"github.com/monkeythorn/meet/internal/leaktest"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	stripe "github.com/stripe/stripe-go/v76"
	"github.com/stripe/stripe-go/v76/webhook"
)

const (
	testBuyerEmail = "ada.buyer@example.test"
	testBuyerName  = "Ada Buyer"
)

func eventJSON(t testing.TB, id string, typ string, obj map[string]any) []byte {
	t.Helper()
	b, err := json.Marshal(map[string]any{
		"id": id, "object": "event", "api_version": stripe.APIVersion, "type": typ,
		"created": time.Now().Unix(), "livemode": false,
		"data": map[string]any{"object": obj},
	})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func checkoutCompleted(customer, plan string) map[string]any {
	return map[string]any{
		"id": "cs_test_completed", "object": "checkout.session", "mode": "subscription",
		"status": "complete", "payment_status": "paid", "customer": customer,
		"subscription":     "sub_test_1",
		"customer_details": map[string]any{"email": testBuyerEmail, "name": testBuyerName},
		"metadata":         map[string]any{metadataPlanKey: plan},
	}
}

func subscriptionEvent(customer, status string) map[string]any {
	return map[string]any{"id": "sub_test_1", "object": "subscription", "customer": customer, "status": status}
}

func signed(payload []byte, secret string, at time.Time) map[string]string {
	sp := webhook.GenerateTestSignedPayload(&webhook.UnsignedPayload{Payload: payload, Secret: secret, Timestamp: at})
	return map[string]string{"Stripe-Signature": sp.Header, "Content-Type": "application/json"}
}

func (h *harness) postWebhook(t *testing.T, payload []byte, hdr map[string]string) (int, string) {
	t.Helper()
	resp := h.do(t, http.MethodPost, "/api/stripe/webhook", bytes.NewReader(payload), hdr)
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestWebhookVerification(t *testing.T) {
	leaktest.Check(t)
	h := newHarness(t, nil)
	valid := eventJSON(t, "evt_sub_1", "customer.subscription.updated", subscriptionEvent(h.fx.Customer, "active"))
	now := time.Now()
	signHere := map[string]string{"sign": "payload as given"}
	tests := []struct {
		name     string
		payload  []byte
		hdr      map[string]string
		want     int
		wantBody string
	}{
		{"valid signature", valid, signed(valid, testWebhookSecret, now), 200, `"ok"`},
		{"replayed event id", valid, signed(valid, testWebhookSecret, now), 200, `"duplicate"`},
		{"wrong secret", valid, signed(valid, "whsec_wrong", now), 400, "invalid signature"},
		{"stale timestamp", valid, signed(valid, testWebhookSecret, now.Add(-webhook.DefaultTolerance-time.Minute)), 400, "tolerance"},
		{"future timestamp", valid, signed(valid, testWebhookSecret, now.Add(time.Hour)), 400, "tolerance"},
		{"slightly ahead clock", eventJSON(t, "evt_ahead", "charge.refunded", map[string]any{"id": "ch_2"}),
			signed(eventJSON(t, "evt_ahead", "charge.refunded", map[string]any{"id": "ch_2"}), testWebhookSecret, now.Add(time.Minute)), 200, "ignored"},
		{"missing header", valid, nil, 400, "missing Stripe-Signature"},
		{"garbage header", valid, map[string]string{"Stripe-Signature": "t=abc,v1=zz"}, 400, "invalid signature"},
		{"body changed after signing", bytes.Replace(valid, []byte("active"), []byte("canceled"), 1), signed(valid, testWebhookSecret, now), 400, "invalid signature"},
		{"malformed body", []byte("{not json"), signed([]byte("{not json"), testWebhookSecret, now), 400, "malformed event"},
		{"unknown type", eventJSON(t, "evt_x", "charge.refunded", map[string]any{"id": "ch_1"}),
			signed(eventJSON(t, "evt_x", "charge.refunded", map[string]any{"id": "ch_1"}), testWebhookSecret, now), 200, "ignored"},
		{"other API version still accepted", bytes.Replace(eventJSON(t, "evt_v", "customer.subscription.deleted", subscriptionEvent(h.fx.Customer, "canceled")), []byte(stripe.APIVersion), []byte("2020-08-27"), 1),
			signHere, 200, `"ok"`},
		{"known type, object without customer", eventJSON(t, "evt_nc", "customer.subscription.updated", map[string]any{"id": "sub_1"}),
			signHere, 400, "malformed event object"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			hdr := tc.hdr
			if hdr["sign"] != "" {
				hdr = signed(tc.payload, testWebhookSecret, now)
			}
			code, body := h.postWebhook(t, tc.payload, hdr)
			if code != tc.want || !strings.Contains(body, tc.wantBody) {
				t.Fatalf("got %d %s, want %d containing %q", code, body, tc.want, tc.wantBody)
			}
		})
	}
}

func TestWebhookBodyLimit(t *testing.T) {
	leaktest.Check(t)
	h := newHarness(t, nil)
	srv := httptest.NewServer(h.mux)
	defer srv.Close()
	defer srv.Client().CloseIdleConnections()
	pad := strings.Repeat("x", maxWebhookBody)
	big := eventJSON(t, "evt_big", "customer.subscription.updated", map[string]any{"id": "sub_1", "customer": "cus_1", "description": pad})
	for _, tc := range []struct {
		name    string
		payload []byte
		want    int
	}{
		{"over 64 KiB", big, http.StatusRequestEntityTooLarge},
		{"just under", eventJSON(t, "evt_ok", "customer.subscription.updated", map[string]any{"id": "sub_1", "customer": "cus_1", "description": pad[:maxWebhookBody-400]}), http.StatusOK},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req, _ := http.NewRequest(http.MethodPost, srv.URL+"/api/stripe/webhook", bytes.NewReader(tc.payload))
			for k, v := range signed(tc.payload, testWebhookSecret, time.Now()) {
				req.Header.Set(k, v)
			}
			resp, err := srv.Client().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != tc.want {
				t.Fatalf("status %d, want %d (payload %d bytes)", resp.StatusCode, tc.want, len(tc.payload))
			}
		})
	}
}

func TestWebhookBillingOff(t *testing.T) {
	s, err := New(Config{})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	s.Register(mux)
	payload := eventJSON(t, "evt_1", "customer.subscription.updated", subscriptionEvent("cus_1", "active"))
	w := httptest.NewRecorder()
	req := httptest.NewRequest(http.MethodPost, "/api/stripe/webhook", bytes.NewReader(payload))
	req.Header.Set("Stripe-Signature", signed(payload, testWebhookSecret, time.Now())["Stripe-Signature"])
	mux.ServeHTTP(w, req)
	if w.Code != http.StatusServiceUnavailable || !strings.Contains(w.Body.String(), "not enabled") {
		t.Fatalf("got %d %s", w.Code, w.Body)
	}
}

// Without mail the checkout event still succeeds (the success page shows
// the code), and a plan this server does not sell issues nothing.
func TestWebhookCheckoutWithoutMail(t *testing.T) {
	leaktest.Check(t)
	h := newHarness(t, nil)
	for _, tc := range []struct{ id, plan, wantLog string }{
		{"evt_c1", "pro", "access code issued, not mailed"},
		{"evt_c2", "gold", "plan not offered here"},
	} {
		p := eventJSON(t, tc.id, "checkout.session.completed", checkoutCompleted(h.fx.Customer, tc.plan))
		if code, body := h.postWebhook(t, p, signed(p, testWebhookSecret, time.Now())); code != 200 {
			t.Fatalf("%s: %d %s", tc.plan, code, body)
		}
		if !strings.Contains(h.logs.String(), tc.wantLog) {
			t.Fatalf("%s: log lacks %q:\n%s", tc.plan, tc.wantLog, h.logs)
		}
	}
}
