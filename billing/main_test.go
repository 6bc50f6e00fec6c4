package billing

import (
	"context"
	"github.com/monkeythorn/meet/billing/billingtest"
	"github.com/monkeythorn/meet/internal/logbuf"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"sync"
	"testing"
)

// One stripe-mock process serves the whole package: it is stateless, and
// starting it costs about a second.
var mock struct {
	url string
	err error
}

func TestMain(m *testing.M) {
	u, stop, err := billingtest.StartStripeMock()
	mock.url, mock.err = u, err
	code := m.Run()
	if stop != nil {
		stop()
	}
	os.Exit(code)
}

// stripeMockURL returns the running stripe-mock or fails the test.
func stripeMockURL(t testing.TB) string {
	t.Helper()
	if mock.err != nil {
		t.Fatalf("stripe-mock unavailable: %v", mock.err)
	}
	return mock.url
}

var (
	fixtureOnce sync.Once
	fixtureVal  billingtest.Fixture
)

// mockFixture reads stripe-mock's fixture once for the package.
func mockFixture(t testing.TB) billingtest.Fixture {
	t.Helper()
	u := stripeMockURL(t)
	fixtureOnce.Do(func() { fixtureVal = billingtest.ReadFixture(t, u) })
	if fixtureVal.Price == "" {
		t.Fatal("stripe-mock's fixture could not be read (see the first test that failed)")
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
	rec   *billingtest.StripeRecorder
	clock *billingtest.Clock
	logs  *logbuf.Buffer
	fx    billingtest.Fixture
	mux   *http.ServeMux
}

// newHarness builds a billing-on Service whose "pro" plan's metered price
// is the stripe-mock fixture's price, so usage finds the fixture's item.
func newHarness(t *testing.T, mod func(*Config)) *harness {
	t.Helper()
	fx := mockFixture(t)
	h := &harness{rec: billingtest.NewStripeRecorder(t), clock: billingtest.NewClock(), logs: &logbuf.Buffer{}, fx: fx, mux: http.NewServeMux()}
	plans := DefaultPlans()
	plans[1].PriceID, plans[1].MeteredPriceID = testFlatPrice, fx.Price
	cfg := Config{
		StripeKey: testStripeKey, WebhookSecret: testWebhookSecret, Plans: plans,
		PublicURL: testPublicURL, CodeSecret: testCodeSecret,
		StripeBackendURL: stripeMockURL(t),
		HTTPClient:       h.rec.Client(),
		Logger:           h.logs.Logger(),
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
