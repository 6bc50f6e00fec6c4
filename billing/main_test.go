package billing

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"go/build"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	stripe "github.com/stripe/stripe-go/v76"
)

// One stripe-mock process serves the whole package: it is stateless, and
// starting it costs about a second.
var mock struct {
	url string
	err error
}

func TestMain(m *testing.M) {
	stop, err := startStripeMock()
	mock.err = err
	code := m.Run()
	if stop != nil {
		stop()
	}
	os.Exit(code)
}

const stripeMockHint = "stripe-mock v0.162.0 not found in $PATH, $GOBIN or $(go env GOPATH)/bin; `make test` installs it " +
	"(GOBIN=$(go env GOPATH)/bin go install github.com/stripe/stripe-mock@v0.162.0)"

func findStripeMock() (string, error) {
	if p, err := exec.LookPath("stripe-mock"); err == nil {
		return p, nil
	}
	var dirs []string
	if d := os.Getenv("GOBIN"); d != "" {
		dirs = append(dirs, d)
	}
	for _, gp := range filepath.SplitList(build.Default.GOPATH) {
		dirs = append(dirs, filepath.Join(gp, "bin"))
	}
	for _, d := range dirs {
		p := filepath.Join(d, "stripe-mock")
		if fi, err := os.Stat(p); err == nil && !fi.IsDir() {
			return p, nil
		}
	}
	return "", errors.New(stripeMockHint)
}

func freePort() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer l.Close()
	return l.Addr().String(), nil
}

func startStripeMock() (stop func(), err error) {
	bin, err := findStripeMock()
	if err != nil {
		return nil, err
	}
	httpAddr, err := freePort()
	if err != nil {
		return nil, err
	}
	httpsAddr, err := freePort()
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(bin, "-http-addr", httpAddr, "-https-addr", httpsAddr)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start stripe-mock: %w", err)
	}
	stop = func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }
	deadline := time.Now().Add(20 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", httpAddr, 200*time.Millisecond)
		if err == nil {
			c.Close()
			break
		}
		if time.Now().After(deadline) {
			stop()
			return nil, fmt.Errorf("stripe-mock did not listen on %s within 20 s: %s", httpAddr, out.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	mock.url = "http://" + httpAddr
	return stop, nil
}

// stripeMockURL returns the running stripe-mock or fails the test.
func stripeMockURL(t testing.TB) string {
	t.Helper()
	if mock.err != nil {
		t.Fatalf("stripe-mock unavailable: %v", mock.err)
	}
	return mock.url
}

// checkGoroutines fails the test if goroutines started during it are still
// running 3 s after its other clean-ups. Register it first so it runs last.
func checkGoroutines(t *testing.T) {
	t.Helper()
	before := runtime.NumGoroutine()
	t.Cleanup(func() {
		deadline := time.Now().Add(3 * time.Second)
		for runtime.NumGoroutine() > before {
			if time.Now().After(deadline) {
				buf := make([]byte, 1<<20)
				n := runtime.Stack(buf, true)
				t.Errorf("goroutine leak: %d before, %d after:\n%s", before, runtime.NumGoroutine(), buf[:n])
				return
			}
			time.Sleep(20 * time.Millisecond)
		}
	})
}

// request is what the recorder saw of one Stripe API call.
type request struct {
	Method, Path, IdempotencyKey string
	Form                         url.Values
	Failed                       bool // the recorder failed it on purpose
}

// recorder is an http.RoundTripper in front of stripe-mock. It records
// every request, can fail them (a Stripe outage) and can rewrite
// responses (states stripe-mock's fixtures never show).
type recorder struct {
	next    *http.Transport
	fail    atomic.Bool
	mu      sync.Mutex
	reqs    []request
	rewrite func(path string, status int, body []byte) (int, []byte)
}

func newRecorder() *recorder {
	return &recorder{next: &http.Transport{Proxy: nil, DialContext: (&net.Dialer{Timeout: 5 * time.Second}).DialContext}}
}

func (r *recorder) RoundTrip(req *http.Request) (*http.Response, error) {
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
	rec := request{Method: req.Method, Path: req.URL.Path, IdempotencyKey: req.Header.Get("Idempotency-Key"), Form: form, Failed: r.fail.Load()}
	r.mu.Lock()
	r.reqs = append(r.reqs, rec)
	rewrite := r.rewrite
	r.mu.Unlock()
	if rec.Failed {
		return nil, errors.New("recorder: simulated Stripe outage")
	}
	resp, err := r.next.RoundTrip(req)
	if err != nil || rewrite == nil {
		return resp, err
	}
	rb, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		return nil, err
	}
	resp.StatusCode, rb = rewrite(req.URL.Path, resp.StatusCode, rb)
	resp.Body = io.NopCloser(bytes.NewReader(rb))
	resp.ContentLength = int64(len(rb))
	resp.Header.Del("Content-Length")
	return resp, nil
}

func (r *recorder) setRewrite(f func(path string, status int, body []byte) (int, []byte)) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.rewrite = f
}

// requests returns the recorded requests whose path contains part.
func (r *recorder) requests(part string) []request {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []request
	for _, q := range r.reqs {
		if strings.Contains(q.Path, part) {
			out = append(out, q)
		}
	}
	return out
}

// fakeClock is a settable Config.Now.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func newFakeClock() *fakeClock { return &fakeClock{now: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// syncBuffer collects log output from concurrent goroutines.
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

// fixture holds ids from stripe-mock's subscription fixture, read once
// through a real client so the tests follow the fixture rather than
// hard-coding it.
type fixture struct {
	customer, subscription, price, item string
}

var (
	fixtureOnce sync.Once
	fixtureVal  fixture
	fixtureErr  error
)

func mockFixture(t testing.TB) fixture {
	t.Helper()
	u := stripeMockURL(t)
	fixtureOnce.Do(func() {
		rec := newRecorder()
		defer rec.next.CloseIdleConnections()
		api := newStripeAPI(Config{StripeKey: testStripeKey, StripeBackendURL: u, HTTPClient: &http.Client{Transport: rec, Timeout: 10 * time.Second}})
		params := &stripe.SubscriptionListParams{Customer: stripe.String("cus_fixture")}
		params.Single = true
		it := api.Subscriptions.List(params)
		for it.Next() {
			s := it.Subscription()
			if s.Items == nil || len(s.Items.Data) == 0 || s.Customer == nil {
				continue
			}
			fixtureVal = fixture{customer: s.Customer.ID, subscription: s.ID, price: s.Items.Data[0].Price.ID, item: s.Items.Data[0].ID}
			return
		}
		fixtureErr = fmt.Errorf("stripe-mock returned no subscription with items (err %v)", it.Err())
	})
	if fixtureErr != nil {
		t.Fatal(fixtureErr)
	}
	return fixtureVal
}

const (
	testStripeKey     = "sk_test_123"
	testWebhookSecret = "whsec_test_secret"
	testPublicURL     = "https://meet.example.test"
	testFlatPrice     = "price_flat_test"
)

var testCodeSecret = []byte("0123456789abcdef-test-code-secret")

// harness is a Service on stripe-mock with its recorder, clock and logs.
type harness struct {
	svc   *Service
	rec   *recorder
	clock *fakeClock
	logs  *syncBuffer
	fx    fixture
	mux   *http.ServeMux
}

// newHarness builds a billing-on Service whose "pro" plan's metered price
// is the stripe-mock fixture's price, so usage finds the fixture's item.
func newHarness(t *testing.T, mod func(*Config)) *harness {
	t.Helper()
	fx := mockFixture(t)
	h := &harness{rec: newRecorder(), clock: newFakeClock(), logs: &syncBuffer{}, fx: fx, mux: http.NewServeMux()}
	t.Cleanup(h.rec.next.CloseIdleConnections)
	plans := DefaultPlans()
	plans[1].PriceID, plans[1].MeteredPriceID = testFlatPrice, fx.price
	cfg := Config{
		StripeKey: testStripeKey, WebhookSecret: testWebhookSecret, Plans: plans,
		PublicURL: testPublicURL, CodeSecret: testCodeSecret,
		StripeBackendURL: stripeMockURL(t),
		HTTPClient:       &http.Client{Transport: h.rec, Timeout: 10 * time.Second},
		Logger:           slog.New(slog.NewTextHandler(h.logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		Now:              h.clock.Now,
	}
	if mod != nil {
		mod(&cfg)
	}
	svc, err := New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	h.svc = svc
	svc.Register(h.mux)
	return h
}

// do sends one request through the Service's routes.
func (h *harness) do(t *testing.T, method, target string, body io.Reader, hdr map[string]string) *http.Response {
	t.Helper()
	req, err := http.NewRequestWithContext(context.Background(), method, target, body)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	w := httptest.NewRecorder()
	h.mux.ServeHTTP(w, req)
	return w.Result()
}
