package billing

import (
	"bytes"
	"encoding/json"
	"github.com/monkeythorn/meet/internal/leaktest"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
)

func decode[T any](t *testing.T, resp *http.Response) T {
	t.Helper()
	var v T
	b, _ := io.ReadAll(resp.Body)
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatalf("response %d is not JSON: %v: %s", resp.StatusCode, err, b)
	}
	return v
}

func TestCheckoutCreatesSession(t *testing.T) {
	leaktest.Check(t)
	h := newHarness(t, nil)
	resp := h.do(t, http.MethodPost, "/api/checkout", strings.NewReader(`{"plan":"pro"}`), nil)
	out := decode[map[string]string](t, resp)
	if resp.StatusCode != 200 || !strings.HasPrefix(out["url"], "https://checkout.stripe.com/") {
		t.Fatalf("got %d %v", resp.StatusCode, out)
	}
	reqs := h.rec.Requests("/v1/checkout/sessions")
	if len(reqs) != 1 || reqs[0].Method != http.MethodPost {
		t.Fatalf("Stripe saw %d checkout requests", len(reqs))
	}
	f := reqs[0].Form
	want := map[string]string{
		"mode":                                   "subscription",
		"line_items[0][price]":                   testFlatPrice,
		"line_items[0][quantity]":                "1",
		"line_items[1][price]":                   h.fx.Price,
		"success_url":                            testPublicURL + "/billing/success?session_id={CHECKOUT_SESSION_ID}",
		"cancel_url":                             testPublicURL + "/billing/cancel",
		"metadata[meet_plan]":                    "pro",
		"subscription_data[metadata][meet_plan]": "pro",
	}
	for k, v := range want {
		if f.Get(k) != v {
			t.Errorf("%s = %q, want %q", k, f.Get(k), v)
		}
	}
	if f.Has("line_items[1][quantity]") {
		t.Error("metered line item must not carry a quantity")
	}
}

func TestCheckoutErrors(t *testing.T) {
	leaktest.Check(t)
	h := newHarness(t, nil)
	off, _ := New(Config{})
	offMux := http.NewServeMux()
	off.Register(offMux)
	tests := []struct {
		name   string
		mux    *http.ServeMux
		body   string
		fail   bool
		status int
		errHas string
	}{
		{"unknown plan", h.mux, `{"plan":"gold"}`, false, 404, "GET /api/plans"},
		{"free plan", h.mux, `{"plan":"free"}`, false, 400, "free plan"},
		{"not JSON", h.mux, `plan=pro`, false, 400, "JSON"},
		{"too big", h.mux, `{"plan":"` + strings.Repeat("p", maxCheckoutBody) + `"}`, false, 400, "JSON"},
		{"Stripe down", h.mux, `{"plan":"pro"}`, true, 502, "try again"},
		{"billing off", offMux, `{"plan":"pro"}`, false, 503, "not enabled"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h.rec.Fail.Store(tc.fail)
			defer h.rec.Fail.Store(false)
			w := httptest.NewRecorder()
			tc.mux.ServeHTTP(w, httptest.NewRequest(http.MethodPost, "/api/checkout", strings.NewReader(tc.body)))
			var out map[string]string
			_ = json.Unmarshal(w.Body.Bytes(), &out)
			if w.Code != tc.status || !strings.Contains(out["error"], tc.errHas) || w.Header().Get("Content-Type") != "application/json" {
				t.Fatalf("got %d %s, want %d with error containing %q", w.Code, w.Body, tc.status, tc.errHas)
			}
		})
	}
}

func TestPlansEndpoint(t *testing.T) {
	leaktest.Check(t)
	h := newHarness(t, nil)
	off, _ := New(Config{})
	offMux := http.NewServeMux()
	off.Register(offMux)
	for _, tc := range []struct {
		name    string
		mux     *http.ServeMux
		billing bool
		ids     string
	}{{"on", h.mux, true, "free,pro"}, {"off", offMux, false, "free"}} {
		t.Run(tc.name, func(t *testing.T) {
			w := httptest.NewRecorder()
			tc.mux.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/api/plans", nil))
			var out plansResponse
			if err := json.Unmarshal(w.Body.Bytes(), &out); err != nil || w.Code != 200 {
				t.Fatalf("%d %s", w.Code, w.Body)
			}
			var ids []string
			for _, p := range out.Plans {
				ids = append(ids, p.ID)
			}
			if out.Billing != tc.billing || strings.Join(ids, ",") != tc.ids {
				t.Fatalf("billing=%v plans=%v", out.Billing, ids)
			}
			if out.Plans[0].MaxParticipants != FreeMaxParticipants || out.Plans[0].MaxDurationSeconds != int64(FreeMaxDuration.Seconds()) {
				t.Fatalf("free plan view = %+v", out.Plans[0])
			}
			if strings.Contains(w.Body.String(), "price_") {
				t.Fatal("price ids leaked to the public plan list")
			}
		})
	}
}

// stripe-mock always answers with an "open" session; the rewrite makes it
// the completed session Stripe returns after payment.
func completeSession(customer string) func(string, int, []byte) (int, []byte) {
	return func(path string, status int, body []byte) (int, []byte) {
		if !strings.HasPrefix(path, "/v1/checkout/sessions/") {
			return status, body
		}
		var m map[string]any
		_ = json.Unmarshal(body, &m)
		m["status"], m["customer"], m["metadata"] = "complete", customer, map[string]string{metadataPlanKey: "pro"}
		b, _ := json.Marshal(m)
		return status, b
	}
}

func TestCheckoutResult(t *testing.T) {
	leaktest.Check(t)
	h := newHarness(t, nil)
	get := func(q string) (*http.Response, checkoutResult) {
		resp := h.do(t, http.MethodGet, "/api/checkout/result"+q, nil, nil)
		return resp, decode[checkoutResult](t, resp)
	}
	resp, out := get("?session_id=cs_test_open")
	if resp.StatusCode != http.StatusConflict || out.Code != "" || out.Status != "open" {
		t.Fatalf("open session: %d %+v", resp.StatusCode, out)
	}
	for _, bad := range []string{"", "?session_id=", "?session_id=pi_123", "?session_id=cs_test%2F..%2Fx"} {
		if resp, _ := get(bad); resp.StatusCode != http.StatusBadRequest {
			t.Errorf("%q: %d", bad, resp.StatusCode)
		}
	}
	h.rec.SetRewrite(completeSession(h.fx.Customer))
	resp, out = get("?session_id=cs_test_done")
	if resp.StatusCode != 200 || out.Status != "complete" || out.Plan != "Pro" || out.Mailed {
		t.Fatalf("complete session: %d %+v", resp.StatusCode, out)
	}
	if resp.Header.Get("Cache-Control") != "no-store" {
		t.Error("code response may be cached")
	}
	if cust, plan, err := h.svc.codes.verify(out.Code); err != nil || cust != h.fx.Customer || plan != "pro" {
		t.Fatalf("code from result page: %q %q %v", cust, plan, err)
	}
	if strings.Contains(h.logs.String(), out.Code) {
		t.Error("code logged")
	}
}

func TestPagesAreSelfContained(t *testing.T) {
	h := newHarness(t, nil)
	inlineScript := regexp.MustCompile(`<script(?:\s[^>]*)?>`)
	for _, tc := range []struct{ path, ctype string }{
		{"/billing/success", "text/html"},
		{"/billing/cancel", "text/html"},
		{"/billing/billing.js", "text/javascript"},
		{"/billing/billing.css", "text/css"},
	} {
		t.Run(tc.path, func(t *testing.T) {
			resp := h.do(t, http.MethodGet, tc.path, nil, nil)
			b, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), tc.ctype) || len(b) == 0 {
				t.Fatalf("%d %q %d bytes", resp.StatusCode, resp.Header.Get("Content-Type"), len(b))
			}
			body := string(b)
			for _, tag := range inlineScript.FindAllString(body, -1) {
				if !strings.Contains(tag, "src=") {
					t.Errorf("inline script %q breaks CSP default-src 'self'", tag)
				}
			}
			for _, bad := range []string{"style=", "<style", "onclick", "onload", "http://", "https://", "//cdn"} {
				if strings.Contains(body, bad) {
					t.Errorf("page contains %q", bad)
				}
			}
		})
	}
	resp := h.do(t, http.MethodGet, "/billing/success?session_id=cs_x", nil, nil)
	if resp.Header.Get("Referrer-Policy") != "no-referrer" {
		t.Error("success page may leak its session id in Referer")
	}
	if !bytes.Contains(mustRead(t, resp), []byte(`src="/billing/billing.js"`)) {
		t.Error("success page does not load its script")
	}
}

func mustRead(t *testing.T, resp *http.Response) []byte {
	t.Helper()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
