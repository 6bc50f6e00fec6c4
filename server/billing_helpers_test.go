package server

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"github.com/monkeythorn/meet/billing/billingtest"
	"github.com/monkeythorn/meet/internal/logbuf"
	"io"
	"net/http"
	"sync"
	"testing"
	"time"

	stripe "github.com/stripe/stripe-go/v76"
	"github.com/stripe/stripe-go/v76/webhook"

	"github.com/monkeythorn/meet/auth"
	"github.com/monkeythorn/meet/billing"
	"github.com/monkeythorn/meet/sfu"
)

// The outside world of billing (stripe-mock behind a recording
// RoundTripper, a real SMTP server, a clock the test moves) comes from
// billing/billingtest, shared with billing's own tests.

const (
	testStripeKey     = "sk_test_123meetwiring"
	testWebhookSecret = "whsec_billing_wiring_test"
	testBuyer         = "buyer@example.test"
	testBillingURL    = "https://meet.example.test"
)

// usageCall is one RecordUsage the server made.
type usageCall struct {
	customer string
	d        time.Duration
}

// usageLog sees every RecordUsage call on its way to the billing service.
type usageLog struct {
	next  usageRecorder
	mu    sync.Mutex
	calls []usageCall
	ch    chan usageCall
}

func newUsageLog() *usageLog { return &usageLog{ch: make(chan usageCall, 64)} }

func (u *usageLog) RecordUsage(customer string, d time.Duration) {
	u.mu.Lock()
	u.calls = append(u.calls, usageCall{customer, d})
	u.mu.Unlock()
	select {
	case u.ch <- usageCall{customer, d}:
	default:
	}
	u.next.RecordUsage(customer, d)
}

func (u *usageLog) all() []usageCall {
	u.mu.Lock()
	defer u.mu.Unlock()
	return append([]usageCall(nil), u.calls...)
}

func (u *usageLog) wait(t *testing.T) usageCall {
	t.Helper()
	select {
	case c := <-u.ch:
		return c
	case <-time.After(10 * time.Second):
		t.Fatal("no RecordUsage within 10 s of a leave")
		return usageCall{}
	}
}

// billingWorld is what one test's billing-on servers share.
type billingWorld struct {
	mockURL string
	fx      billingtest.Fixture
	rec     *billingtest.StripeRecorder
	clock   *billingtest.Clock
	mail    *billingtest.MailSink
	logs    *logbuf.Buffer
}

func newBillingWorld(t *testing.T) *billingWorld {
	t.Helper()
	w := &billingWorld{mockURL: billingtest.StripeMock(t), rec: billingtest.NewStripeRecorder(t), clock: billingtest.NewClock(),
		mail: billingtest.StartMailSink(t, false), logs: &logbuf.Buffer{}}
	w.fx = billingtest.ReadFixture(t, w.mockURL)
	return w
}

// plans are the defaults with the paid plan priced by the fixture's
// price, so usage finds the fixture's subscription item.
func (w *billingWorld) plans() []billing.Plan {
	plans := billing.DefaultPlans()
	plans[1].PriceID, plans[1].MeteredPriceID = "price_flat_wiring", w.fx.Price
	return plans
}

// billingServer is a running Server with billing on, its usage log, and
// an explicit, once-only Shutdown (which flushes usage to Stripe).
type billingServer struct {
	*testServer
	usage    *usageLog
	access   *accessCodeTransport
	stopOnce sync.Once
	stopErr  error
}

func (w *billingWorld) server(t *testing.T, secret []byte, modify func(*Config)) *billingServer {
	t.Helper()
	usage := newUsageLog()
	cfg := Config{
		Logger: w.logs.Logger(),
		Secret: secret,
		// Connected time is measured by the SFU: on the test's clock too.
		SFU: sfu.Config{ListenIP: "127.0.0.1", IncludeLoopback: true, Now: w.clock.Now},
		Billing: billing.Config{
			StripeKey: testStripeKey, WebhookSecret: testWebhookSecret, Plans: w.plans(),
			PublicURL:        testBillingURL,
			SMTPURL:          w.mail.URL,
			MailFrom:         "MonkeyThorn Meet <billing@example.test>",
			MailTLSConfig:    &tls.Config{RootCAs: w.mail.Pool},
			StripeBackendURL: w.mockURL,
			HTTPClient:       w.rec.Client(),
			Now:              w.clock.Now,
			FlushInterval:    time.Hour, // the tests see the flush of Shutdown
		},
		wrapUsage: func(next usageRecorder) usageRecorder { usage.next = next; return usage },
	}
	if modify != nil {
		modify(&cfg)
	}
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	addr, err := s.Start("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	access := &accessCodeTransport{next: &http.Transport{}}
	issuer, err := auth.NewIssuer(auth.IssuerConfig{Secret: secret})
	if err != nil {
		t.Fatal(err)
	}
	bs := &billingServer{
		testServer: &testServer{t: t, s: s, base: "http://" + addr.String(), client: &http.Client{Transport: access, Timeout: 10 * time.Second}, issuer: issuer},
		usage:      usage, access: access,
	}
	t.Cleanup(func() {
		if err := bs.shutdown(); err != nil {
			t.Errorf("Shutdown: %v", err)
		}
	})
	return bs
}

func (bs *billingServer) shutdown() error {
	bs.stopOnce.Do(func() {
		bs.access.next.CloseIdleConnections()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		bs.stopErr = bs.s.Shutdown(ctx)
	})
	return bs.stopErr
}

// waitRooms waits until the server hosts n rooms.
func (bs *billingServer) waitRooms(t *testing.T, n int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for bs.s.sfu.RoomCount() != n {
		if time.Now().After(deadline) {
			t.Fatalf("server hosts %d rooms, want %d", bs.s.sfu.RoomCount(), n)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// accessCodeTransport plays the web client's part: while code is set, it
// adds the stored access code to token requests, as billing.js does for a
// meeting this browser opened as a paid one.
type accessCodeTransport struct {
	next *http.Transport
	mu   sync.Mutex
	code string
}

func (a *accessCodeTransport) use(code string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.code = code
}

func (a *accessCodeTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	a.mu.Lock()
	code := a.code
	a.mu.Unlock()
	if code == "" || req.Method != http.MethodPost || req.URL.Path != "/api/token" {
		return a.next.RoundTrip(req)
	}
	var body map[string]any
	b, err := io.ReadAll(req.Body)
	req.Body.Close()
	if err != nil || json.Unmarshal(b, &body) != nil {
		return nil, fmt.Errorf("test: token request body %q: %v", b, err)
	}
	body["accessCode"] = code
	b, _ = json.Marshal(body)
	r2 := req.Clone(req.Context())
	r2.Body, r2.ContentLength = io.NopCloser(bytes.NewReader(b)), int64(len(b))
	return a.next.RoundTrip(r2)
}

// postJSON sends body to path and decodes a JSON answer into out (if not
// nil); it returns the status and raw body.
func (bs *billingServer) postJSON(t *testing.T, path string, body any, hdr map[string]string, out any) (int, []byte) {
	t.Helper()
	b, ok := body.([]byte)
	if !ok {
		b, _ = json.Marshal(body)
	}
	st, _, rb := bs.do("POST", path, string(b), hdr)
	if out != nil && st == http.StatusOK {
		if err := json.Unmarshal(rb, out); err != nil {
			t.Fatalf("POST %s: %d %s: %v", path, st, rb, err)
		}
	}
	return st, rb
}

// signedEvent is a Stripe event as Stripe would send it, signed with the
// endpoint secret for now.
func signedEvent(t *testing.T, typ string, object any) (body []byte, sigHeader string) {
	t.Helper()
	var id [8]byte
	_, _ = rand.Read(id[:])
	body, err := json.Marshal(map[string]any{
		"id": "evt_" + hex.EncodeToString(id[:]), "object": "event", "type": typ,
		"api_version": stripe.APIVersion, "created": time.Now().Unix(),
		"data": map[string]any{"object": object},
	})
	if err != nil {
		t.Fatal(err)
	}
	sp := webhook.GenerateTestSignedPayload(&webhook.UnsignedPayload{Payload: body, Secret: testWebhookSecret, Timestamp: time.Now()})
	return body, sp.Header
}
