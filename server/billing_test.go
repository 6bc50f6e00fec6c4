package server

import (
	"encoding/json"
	"errors"
	"github.com/monkeythorn/meet/billing/billingtest"
	"github.com/monkeythorn/meet/internal/leaktest"
	"log/slog"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/monkeythorn/meet/billing"
	"github.com/monkeythorn/meet/sfu"
)

var accessCodeInMail = regexp.MustCompile(`(?m)^\s+([0-9A-Z]{5}(?:-[0-9A-Z]{1,5})+)\s*$`)

// buyPro goes through checkout as a buyer would, up to the access code in
// the mail: POST /api/checkout, then the signed checkout.session.completed
// webhook Stripe sends after payment, then the mail it triggers.
func buyPro(t *testing.T, w *billingWorld, bs *billingServer) string {
	t.Helper()
	var co struct {
		URL string `json:"url"`
	}
	if st, b := bs.postJSON(t, "/api/checkout", map[string]string{"plan": "pro"}, nil, &co); st != http.StatusOK || co.URL == "" {
		t.Fatalf("checkout: %d %s", st, b)
	}
	sessions := w.rec.Requests("/v1/checkout/sessions")
	if len(sessions) != 1 || sessions[0].Form.Get("mode") != "subscription" ||
		sessions[0].Form.Get("line_items[1][price]") != w.fx.Price || sessions[0].Form.Get("metadata[meet_plan]") != "pro" {
		t.Fatalf("checkout session request to Stripe: %+v", sessions)
	}

	body, sig := signedEvent(t, "checkout.session.completed", map[string]any{
		"id": "cs_test_wiring", "object": "checkout.session", "mode": "subscription", "status": "complete",
		"customer": w.fx.Customer, "customer_details": map[string]any{"email": testBuyer},
		"metadata": map[string]string{"meet_plan": "pro"},
	})
	if st, b := bs.postJSON(t, "/api/stripe/webhook", body, map[string]string{"Stripe-Signature": sig, "Content-Type": "application/json"}, nil); st != http.StatusOK {
		t.Fatalf("webhook: %d %s", st, b)
	}
	msgs := w.mail.Messages()
	if len(msgs) != 1 || len(msgs[0].To) != 1 || msgs[0].To[0] != testBuyer || !msgs[0].TLS || msgs[0].AuthUser != billingtest.SMTPUser {
		t.Fatalf("want one mail to %s over TLS after AUTH, got %+v", testBuyer, msgs)
	}
	m := accessCodeInMail.FindStringSubmatch(string(msgs[0].Data))
	if m == nil {
		t.Fatalf("no access code in the mail:\n%s", string(msgs[0].Data))
	}
	return m[1]
}

type roomsReply struct {
	Code string    `json:"code"`
	Plan *planInfo `json:"plan"`
}

// TestPaidMeetingEndToEnd: checkout, signed webhook, mail with the code,
// a paid room made with the code, two Pion participants (the host with the
// code, a guest without) calling through /ws and the real SFU, and at
// drain one usage record with their summed minutes on the subscription
// item of the metered price.
func TestPaidMeetingEndToEnd(t *testing.T) {
	leaktest.Check(t)
	w := newBillingWorld(t)
	bs := w.server(t, testSecret, nil)
	code := buyPro(t, w, bs)
	if want, _ := bs.s.billing.svc.IssueAccessCode(w.fx.Customer, "pro"); code != want {
		t.Fatalf("mailed code %q, want the customer's code %q", code, want)
	}

	var rr roomsReply
	if st, b := bs.postJSON(t, "/api/rooms", map[string]any{"e2ee": true, "accessCode": code}, nil, &rr); st != http.StatusOK {
		t.Fatalf("paid room: %d %s", st, b)
	}
	if rr.Plan == nil || rr.Plan.ID != "pro" || rr.Plan.MaxParticipants != 50 || rr.Plan.MaxDurationSeconds != 8*3600 {
		t.Fatalf("paid room plan %+v, want pro", rr.Plan)
	}

	bs.access.use(code) // the host's browser sends its code with the token request
	host := joinPion(t, bs.testServer, rr.Code, 1)
	t.Cleanup(host.leave)
	bs.access.use("") // the guest has only the link
	guest := joinPion(t, bs.testServer, rr.Code, 2)
	t.Cleanup(guest.leave)
	waitMedia(t, []*pionClient{host, guest}, []*pionClient{host, guest}, 50, 20*time.Second) // ~2 s of media
	// Checked before anyone leaves: a renegotiation racing a client's own
	// teardown is not the server's fault.
	host.checkErrors(t)
	guest.checkErrors(t)

	// Metering uses the billing clock: move it so the expected minutes do
	// not depend on how fast this machine is.
	w.clock.Advance(7*time.Minute + 30*time.Second)
	guest.leave()
	if c := bs.usage.wait(t); c.customer != w.fx.Customer || c.d != 7*time.Minute+30*time.Second {
		t.Errorf("guest's usage: %+v, want 7m30s for the room's customer", c)
	}
	w.clock.Advance(5 * time.Minute)
	host.leave()
	if c := bs.usage.wait(t); c.customer != w.fx.Customer || c.d != 12*time.Minute+30*time.Second {
		t.Errorf("host's usage: %+v, want 12m30s", c)
	}
	bs.waitRooms(t, 0)
	if n := len(w.rec.Requests("usage_records")); n != 0 {
		t.Fatalf("%d usage records before the flush interval or drain", n)
	}

	if err := bs.shutdown(); err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	recs := w.rec.Requests("usage_records")
	if len(recs) != 1 {
		t.Fatalf("usage records at drain: %+v, want 1", recs)
	}
	r := recs[0]
	if r.Method != "POST" || r.Path != "/v1/subscription_items/"+w.fx.Item+"/usage_records" ||
		r.Form.Get("quantity") != "20" || r.Form.Get("action") != "increment" || !strings.HasPrefix(r.IdempotencyKey, "meet-usage-") {
		t.Errorf("usage record %+v, want 20 minutes (7m30s + 12m30s) incremented on item %s with an idempotency key", r, w.fx.Item)
	}
	if pending, dropped := bs.s.billing.svc.PendingUsage(); pending != 0 || dropped != 0 {
		t.Errorf("after drain: %d minutes pending, %d dropped", pending, dropped)
	}
	logs := w.logs.String()
	for _, secret := range []string{code, testBuyer, w.fx.Customer, billingtest.SMTPPass, testStripeKey} {
		if strings.Contains(logs, secret) {
			t.Errorf("the log contains %q", secret)
		}
	}
}

// TestFreeMeetingIsNotCounted: the same call in a room made without a
// code records, counts and sends nothing.
func TestFreeMeetingIsNotCounted(t *testing.T) {
	leaktest.Check(t)
	w := newBillingWorld(t)
	bs := w.server(t, testSecret, nil)
	var rr roomsReply
	if st, b := bs.postJSON(t, "/api/rooms", map[string]any{"e2ee": true}, nil, &rr); st != http.StatusOK || rr.Plan != nil {
		t.Fatalf("free room: %d %s", st, b)
	}
	a := joinPion(t, bs.testServer, rr.Code, 1)
	t.Cleanup(a.leave)
	b := joinPion(t, bs.testServer, rr.Code, 2)
	t.Cleanup(b.leave)
	waitMedia(t, []*pionClient{a, b}, []*pionClient{a, b}, 50, 20*time.Second)
	a.checkErrors(t)
	b.checkErrors(t)
	w.clock.Advance(10 * time.Minute)
	b.leave()
	select {
	case <-a.left:
	case <-time.After(10 * time.Second):
		t.Fatal("no participant-left after the guest left")
	}
	a.leave()
	bs.waitRooms(t, 0)
	if err := bs.shutdown(); err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	if calls := bs.usage.all(); len(calls) != 0 {
		t.Errorf("free meeting recorded usage: %+v", calls)
	}
	if pending, dropped := bs.s.billing.svc.PendingUsage(); pending != 0 || dropped != 0 {
		t.Errorf("free meeting counted: %d minutes pending, %d dropped", pending, dropped)
	}
	if calls := w.rec.Requests(""); len(calls) != 0 {
		t.Errorf("a free meeting made %d Stripe requests: %+v", len(calls), calls)
	}
}

// TestAccessCodeSurvivesRestart: a code mailed by one server process
// verifies on a new server.New with the same secret (billing.CodeSecret is
// derived from it, nothing is stored), and not on one with another secret.
func TestAccessCodeSurvivesRestart(t *testing.T) {
	leaktest.Check(t)
	w := newBillingWorld(t)
	first := w.server(t, testSecret, nil)
	code := buyPro(t, w, first)
	if err := first.shutdown(); err != nil {
		t.Fatal(err)
	}

	again := w.server(t, append([]byte(nil), testSecret...), nil)
	var rr roomsReply
	if st, b := again.postJSON(t, "/api/rooms", map[string]any{"accessCode": code}, nil, &rr); st != http.StatusOK || rr.Plan == nil || rr.Plan.ID != "pro" {
		t.Fatalf("code after restart: %d %s", st, b)
	}
	var tr tokenResponse
	if st, b := again.postJSON(t, "/api/token", map[string]any{"room": rr.Code, "accessCode": code}, nil, &tr); st != http.StatusOK || tr.Plan == nil || tr.Plan.ID != "pro" {
		t.Fatalf("paid token after restart: %d %s", st, b)
	}
	claims, err := again.issuer.Verify(tr.Token)
	if err != nil || claims.Plan != "pro" || claims.Customer != w.fx.Customer {
		t.Fatalf("token claims %+v, %v: want plan pro for the customer", claims, err)
	}

	other := w.server(t, []byte("another-secret-of-sufficient-length-0123456789"), nil)
	st, hdr, b := other.do("POST", "/api/rooms", `{"accessCode":"`+code+`"}`, nil)
	checkJSONError(t, st, hdr, b, http.StatusForbidden, codeBadAccess)
}

func TestAccessCodeErrors(t *testing.T) {
	leaktest.Check(t)
	w := newBillingWorld(t)
	bs := w.server(t, testSecret, nil)
	svc := bs.s.billing.svc
	good, _ := svc.IssueAccessCode("cus_good", "pro")
	inactive, _ := svc.IssueAccessCode("cus_inactive", "pro")
	down, _ := svc.IssueAccessCode("cus_down", "pro")
	room := bs.newRoom()

	tests := []struct {
		name   string
		code   string
		setup  func()
		status int
		errc   string
	}{
		{"garbage", "not-a-code", nil, 403, codeBadAccess},
		{"tampered", good[:len(good)-1] + map[bool]string{true: "1", false: "0"}[strings.HasSuffix(good, "0")], nil, 403, codeBadAccess},
		{"huge", strings.Repeat("A", 1000), nil, 403, codeBadAccess},
		{"inactive", inactive, func() {
			w.rec.SetRewrite(func(path string, status int, b []byte) (int, []byte) {
				var list struct {
					Data []map[string]any `json:"data"`
				}
				if path != "/v1/subscriptions" || json.Unmarshal(b, &list) != nil {
					return status, b
				}
				for _, sub := range list.Data {
					sub["status"] = "canceled"
				}
				var whole map[string]any
				_ = json.Unmarshal(b, &whole)
				whole["data"] = list.Data
				out, _ := json.Marshal(whole)
				return status, out
			})
		}, 402, codeInactive},
		{"stripe down", down, func() { w.rec.SetRewrite(nil); w.rec.Fail.Store(true) }, 503, codeStripeDown},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.setup != nil {
				tt.setup()
			}
			for _, req := range []struct{ path, body string }{
				{"/api/rooms", `{"accessCode":"` + tt.code + `"}`},
				{"/api/token", `{"room":"` + room + `","accessCode":"` + tt.code + `"}`},
			} {
				st, hdr, b := bs.do("POST", req.path, req.body, nil)
				checkJSONError(t, st, hdr, b, tt.status, tt.errc)
			}
		})
	}
	w.rec.Fail.Store(false)
	var tr tokenResponse
	if st, b := bs.postJSON(t, "/api/token", map[string]any{"room": room, "accessCode": "  "}, nil, &tr); st != http.StatusOK || tr.Plan != nil {
		t.Errorf("blank access code: %d %s, want a free token", st, b)
	}
	if claims, err := bs.issuer.Verify(tr.Token); err != nil || claims.Plan != "" || claims.Customer != "" {
		t.Errorf("blank access code gave claims %+v %v", claims, err)
	}
}

// TestBillingOff: without a Stripe key the billing routes answer 404, an
// access code is refused with a clear 404, and rooms work as before.
func TestBillingOff(t *testing.T) {
	leaktest.Check(t)
	ts := newTestServer(t, nil)
	if ts.s.billing != nil {
		t.Fatal("billing on without a Stripe key")
	}
	for _, r := range []struct{ method, path, body string }{
		{"GET", "/api/plans", ""},
		{"POST", "/api/checkout", `{"plan":"pro"}`},
		{"POST", "/api/stripe/webhook", `{}`},
		{"GET", "/api/checkout/result?session_id=cs_x", ""},
	} {
		st, hdr, b := ts.do(r.method, r.path, r.body, nil)
		checkJSONError(t, st, hdr, b, http.StatusNotFound, codeNotFound)
	}
	room := ts.newRoom()
	for _, r := range []struct{ path, body string }{
		{"/api/rooms", `{"accessCode":"0AB3C-DEF45"}`},
		{"/api/token", `{"room":"` + room + `","accessCode":"0AB3C-DEF45"}`},
	} {
		st, hdr, b := ts.do("POST", r.path, r.body, nil)
		checkJSONError(t, st, hdr, b, http.StatusNotFound, codeBillingOff)
	}
}

// TestBillingNeedsPublicURL: Checkout needs somewhere to send buyers back.
func TestBillingNeedsPublicURL(t *testing.T) {
	leaktest.Check(t)
	_, err := New(Config{
		Logger: slog.New(slog.DiscardHandler), Secret: testSecret,
		SFU:     sfu.Config{ListenIP: "127.0.0.1"},
		Billing: billing.Config{StripeKey: testStripeKey, WebhookSecret: testWebhookSecret},
	})
	if !errors.Is(err, ErrConfig) || !strings.Contains(err.Error(), "public URL") {
		t.Fatalf("New without a public URL: %v", err)
	}
}
