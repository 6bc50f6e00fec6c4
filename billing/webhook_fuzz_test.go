package billing

import (
	"bytes"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

// FuzzWebhookEvent signs arbitrary bodies with the endpoint's secret, so
// every input gets past the signature check to the event parsing and the
// handlers: the part only Stripe (or someone holding the secret) reaches.
// With mail off nothing may answer 5xx (Stripe would retry a body that
// can never succeed) and nothing may panic. Seeds:
// testdata/fuzz/FuzzWebhookEvent.
func FuzzWebhookEvent(f *testing.F) {
	plans := DefaultPlans()
	plans[1].PriceID, plans[1].MeteredPriceID = testFlatPrice, "price_metered_test"
	svc, err := New(Config{
		StripeKey: testStripeKey, WebhookSecret: testWebhookSecret, Plans: plans,
		PublicURL: testPublicURL, CodeSecret: testCodeSecret,
		// Nothing here may call Stripe; a call would fail and show as 5xx.
		StripeBackendURL: "http://127.0.0.1:1",
		HTTPClient:       &http.Client{Timeout: time.Second},
		Logger:           slog.New(slog.DiscardHandler),
	})
	if err != nil {
		f.Fatal(err)
	}
	f.Add(eventJSON(f, "evt_1", "customer.subscription.updated", subscriptionEvent("cus_1", "active")))
	f.Fuzz(func(t *testing.T, body []byte) {
		req := httptest.NewRequest(http.MethodPost, "/api/stripe/webhook", bytes.NewReader(body))
		for k, v := range signed(body, testWebhookSecret, time.Now()) {
			req.Header.Set(k, v)
		}
		w := httptest.NewRecorder()
		svc.handleWebhook(w, req)
		switch w.Code {
		case http.StatusOK, http.StatusBadRequest, http.StatusRequestEntityTooLarge:
		default:
			t.Fatalf("status %d for %q: %s", w.Code, body, w.Body)
		}
	})
}
