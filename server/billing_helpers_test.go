package server

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"go/build"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
	stripe "github.com/stripe/stripe-go/v76"
	"github.com/stripe/stripe-go/v76/client"
	"github.com/stripe/stripe-go/v76/webhook"

	"github.com/monkeythorn/meet/auth"
	"github.com/monkeythorn/meet/billing"
	"github.com/monkeythorn/meet/internal/testcert"
	"github.com/monkeythorn/meet/sfu"
)

// Test doubles of the outside world of billing: stripe-mock behind a
// recording RoundTripper (the real stripe-go client talks to it), a real
// SMTP server with STARTTLS and AUTH, and a clock the test moves.

const (
	testStripeKey     = "sk_test_123meetwiring"
	testWebhookSecret = "whsec_billing_wiring_test"
	testBuyer         = "buyer@example.test"
	testSMTPUser      = "AKIAWIRINGTEST"
	testSMTPPass      = "smtp-pass/with+chars"
	testBillingURL    = "https://meet.example.test"
)

func findStripeMock(t *testing.T) string {
	t.Helper()
	if p, err := exec.LookPath("stripe-mock"); err == nil {
		return p
	}
	dirs := []string{"../bin", os.Getenv("GOBIN")}
	for _, gp := range filepath.SplitList(build.Default.GOPATH) {
		dirs = append(dirs, filepath.Join(gp, "bin"))
	}
	for _, d := range dirs {
		p := filepath.Join(d, "stripe-mock")
		if fi, err := os.Stat(p); d != "" && err == nil && !fi.IsDir() {
			return p
		}
	}
	t.Fatal("stripe-mock v0.162.0 not found in $PATH, ./bin, $GOBIN or $(go env GOPATH)/bin; `make test` installs it " +
		"(go install github.com/stripe/stripe-mock@v0.162.0)")
	return ""
}

func loopbackAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// startStripeMock runs stripe-mock on loopback for one test; it starts in
// under a second.
func startStripeMock(t *testing.T) string {
	t.Helper()
	httpAddr, httpsAddr := loopbackAddr(t), loopbackAddr(t)
	cmd := exec.Command(findStripeMock(t), "-http-addr", httpAddr, "-https-addr", httpsAddr)
	var out syncBuffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	deadline := time.Now().Add(20 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", httpAddr, 200*time.Millisecond)
		if err == nil {
			c.Close()
			return "http://" + httpAddr
		}
		if time.Now().After(deadline) {
			t.Fatalf("stripe-mock did not listen on %s within 20 s: %s", httpAddr, out.String())
		}
		time.Sleep(25 * time.Millisecond)
	}
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// stripeCall is one request the server made to the Stripe API.
type stripeCall struct {
	Method, Path, IdempotencyKey string
	Form                         url.Values
}

// stripeRecorder sits between stripe-go and stripe-mock: it records every
// request, can fail them all (Stripe unreachable) and can rewrite response
// bodies (states stripe-mock's fixtures never show).
type stripeRecorder struct {
	next    *http.Transport
	fail    atomic.Bool
	mu      sync.Mutex
	calls   []stripeCall
	rewrite func(path string, body []byte) []byte
}

func newStripeRecorder(t *testing.T) *stripeRecorder {
	r := &stripeRecorder{next: &http.Transport{Proxy: nil}}
	t.Cleanup(r.next.CloseIdleConnections)
	return r
}

func (r *stripeRecorder) RoundTrip(req *http.Request) (*http.Response, error) {
	var body []byte
	if req.Body != nil {
		body, _ = io.ReadAll(req.Body)
		req.Body.Close()
		req.Body = io.NopCloser(bytes.NewReader(body))
	}
	form, _ := url.ParseQuery(string(body))
	if req.Method == http.MethodGet {
		form = req.URL.Query()
	}
	r.mu.Lock()
	r.calls = append(r.calls, stripeCall{Method: req.Method, Path: req.URL.Path, IdempotencyKey: req.Header.Get("Idempotency-Key"), Form: form})
	rewrite := r.rewrite
	r.mu.Unlock()
	if r.fail.Load() {
		return nil, errors.New("test: Stripe unreachable")
	}
	resp, err := r.next.RoundTrip(req)
	if err != nil || rewrite == nil {
		return resp, err
	}
	b, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		return nil, err
	}
	b = rewrite(req.URL.Path, b)
	resp.Body, resp.ContentLength = io.NopCloser(bytes.NewReader(b)), int64(len(b))
	resp.Header.Del("Content-Length")
	return resp, nil
}

func (r *stripeRecorder) setRewrite(f func(path string, body []byte) []byte) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.rewrite = f
}

// requests returns the recorded calls whose path contains part.
func (r *stripeRecorder) requests(part string) []stripeCall {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []stripeCall
	for _, c := range r.calls {
		if strings.Contains(c.Path, part) {
			out = append(out, c)
		}
	}
	return out
}

// stripeFixture holds ids of stripe-mock's subscription fixture, read
// through the real client so the tests follow the fixture.
type stripeFixture struct{ customer, price, item string }

func readStripeFixture(t *testing.T, mockURL string) stripeFixture {
	t.Helper()
	tr := &http.Transport{}
	defer tr.CloseIdleConnections()
	b := stripe.GetBackendWithConfig(stripe.APIBackend, &stripe.BackendConfig{
		URL: stripe.String(mockURL), HTTPClient: &http.Client{Transport: tr, Timeout: 10 * time.Second},
		LeveledLogger: &stripe.LeveledLogger{Level: stripe.LevelNull},
	})
	api := client.New(testStripeKey, &stripe.Backends{API: b, Connect: b, Uploads: b})
	params := &stripe.SubscriptionListParams{Customer: stripe.String("cus_fixture")}
	params.Single = true
	it := api.Subscriptions.List(params)
	for it.Next() {
		s := it.Subscription()
		if s.Customer != nil && s.Items != nil && len(s.Items.Data) > 0 && s.Items.Data[0].Price != nil {
			return stripeFixture{customer: s.Customer.ID, price: s.Items.Data[0].Price.ID, item: s.Items.Data[0].ID}
		}
	}
	t.Fatalf("stripe-mock returned no subscription with items (err %v)", it.Err())
	return stripeFixture{}
}

// testClock is a settable billing.Config.Now; the server meters with it.
type testClock struct {
	mu  sync.Mutex
	now time.Time
}

func newTestClock() *testClock { return &testClock{now: time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)} }

func (c *testClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *testClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

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

// mailSink is a real SMTP server (emersion/go-smtp) that, like SES,
// offers STARTTLS and wants AUTH PLAIN before it takes mail.
type mailSink struct {
	addr string
	pool *x509.CertPool
	mu   sync.Mutex
	msgs []sunkMail
}

type sunkMail struct {
	to       []string
	data     string
	tls      bool
	authUser string
}

func startMailSink(t *testing.T) *mailSink {
	t.Helper()
	cert, pool := testcert.Loopback(t, 2)
	k := &mailSink{pool: pool}
	srv := smtp.NewServer(k)
	srv.Domain = "127.0.0.1"
	srv.TLSConfig = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	srv.ReadTimeout, srv.WriteTimeout = 10*time.Second, 10*time.Second
	srv.ErrorLog = log2discard{}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	k.addr = ln.Addr().String()
	done := make(chan struct{})
	go func() { defer close(done); _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close(); <-done })
	return k
}

type log2discard struct{}

func (log2discard) Printf(string, ...any) {}
func (log2discard) Println(...any)        {}

func (k *mailSink) NewSession(c *smtp.Conn) (smtp.Session, error) {
	return &sinkSession{k: k, conn: c}, nil
}

func (k *mailSink) messages() []sunkMail {
	k.mu.Lock()
	defer k.mu.Unlock()
	return append([]sunkMail(nil), k.msgs...)
}

type sinkSession struct {
	k    *mailSink
	conn *smtp.Conn
	cur  sunkMail
}

func (s *sinkSession) AuthMechanisms() []string { return []string{sasl.Plain} }

func (s *sinkSession) Auth(string) (sasl.Server, error) {
	return sasl.NewPlainServer(func(_, user, pass string) error {
		if user != testSMTPUser || pass != testSMTPPass {
			return errors.New("bad credentials")
		}
		s.cur.authUser = user
		return nil
	}), nil
}

func (s *sinkSession) Mail(string, *smtp.MailOptions) error {
	if s.cur.authUser == "" {
		return &smtp.SMTPError{Code: 530, Message: "authentication required"}
	}
	return nil
}

func (s *sinkSession) Rcpt(to string, _ *smtp.RcptOptions) error {
	s.cur.to = append(s.cur.to, to)
	return nil
}

func (s *sinkSession) Data(r io.Reader) error {
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	_, s.cur.tls = s.conn.TLSConnectionState()
	s.cur.data = string(b)
	s.k.mu.Lock()
	s.k.msgs = append(s.k.msgs, s.cur)
	s.k.mu.Unlock()
	return nil
}

func (s *sinkSession) Reset()        { s.cur = sunkMail{authUser: s.cur.authUser} }
func (s *sinkSession) Logout() error { return nil }

// billingWorld is what one test's billing-on servers share.
type billingWorld struct {
	mockURL string
	fx      stripeFixture
	rec     *stripeRecorder
	clock   *testClock
	mail    *mailSink
	logs    *syncBuffer
}

func newBillingWorld(t *testing.T) *billingWorld {
	t.Helper()
	w := &billingWorld{mockURL: startStripeMock(t), rec: newStripeRecorder(t), clock: newTestClock(), mail: startMailSink(t), logs: &syncBuffer{}}
	w.fx = readStripeFixture(t, w.mockURL)
	return w
}

// plans are the defaults with the paid plan priced by the fixture's
// price, so usage finds the fixture's subscription item.
func (w *billingWorld) plans() []billing.Plan {
	plans := billing.DefaultPlans()
	plans[1].PriceID, plans[1].MeteredPriceID = "price_flat_wiring", w.fx.price
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
		Logger: slog.New(slog.NewTextHandler(w.logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		Secret: secret,
		// Connected time is measured by the SFU: on the test's clock too.
		SFU: sfu.Config{ListenIP: "127.0.0.1", IncludeLoopback: true, Now: w.clock.Now},
		Billing: billing.Config{
			StripeKey: testStripeKey, WebhookSecret: testWebhookSecret, Plans: w.plans(),
			PublicURL:        testBillingURL,
			SMTPURL:          "smtp://" + url.UserPassword(testSMTPUser, testSMTPPass).String() + "@" + w.mail.addr,
			MailFrom:         "MonkeyThorn Meet <billing@example.test>",
			MailTLSConfig:    &tls.Config{RootCAs: w.mail.pool},
			StripeBackendURL: w.mockURL,
			HTTPClient:       &http.Client{Transport: w.rec, Timeout: 10 * time.Second},
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
