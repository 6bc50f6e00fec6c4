package billingtest

import (
	"errors"
	"fmt"
	"go/build"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	stripe "github.com/stripe/stripe-go/v76"
	"github.com/stripe/stripe-go/v76/client"

	"github.com/monkeythorn/meet/internal/logbuf"
)

// StripeKey is the API key the tests give stripe-mock (it accepts any
// sk_test_ key).
const StripeKey = "sk_test_123"

const stripeMockHint = "stripe-mock v0.162.0 not found in $PATH, ./bin, $GOBIN or $(go env GOPATH)/bin; `make test` installs it " +
	"(go install github.com/stripe/stripe-mock@v0.162.0)"

// findStripeMock looks in $PATH, the repository's bin/ (tests run in a
// package directory one level below it), $GOBIN and $(go env GOPATH)/bin.
func findStripeMock() (string, error) {
	if p, err := exec.LookPath("stripe-mock"); err == nil {
		return p, nil
	}
	dirs := []string{"../bin", os.Getenv("GOBIN")}
	for _, gp := range filepath.SplitList(build.Default.GOPATH) {
		dirs = append(dirs, filepath.Join(gp, "bin"))
	}
	for _, d := range dirs {
		p := filepath.Join(d, "stripe-mock")
		if fi, err := os.Stat(p); d != "" && err == nil && !fi.IsDir() {
			return p, nil
		}
	}
	return "", errors.New(stripeMockHint)
}

func freeAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer l.Close()
	return l.Addr().String(), nil
}

// StartStripeMock runs stripe-mock on 127.0.0.1 and returns its URL and a
// function that stops it. stripe-mock is stateless, so one process may
// serve a whole package (start it in TestMain); it starts in about a
// second.
func StartStripeMock() (mockURL string, stop func(), err error) {
	bin, err := findStripeMock()
	if err != nil {
		return "", nil, err
	}
	httpAddr, err := freeAddr()
	if err != nil {
		return "", nil, err
	}
	httpsAddr, err := freeAddr()
	if err != nil {
		return "", nil, err
	}
	cmd := exec.Command(bin, "-http-addr", httpAddr, "-https-addr", httpsAddr)
	var out logbuf.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		return "", nil, fmt.Errorf("start stripe-mock: %w", err)
	}
	stop = func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }
	deadline := time.Now().Add(20 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", httpAddr, 200*time.Millisecond)
		if err == nil {
			c.Close()
			return "http://" + httpAddr, stop, nil
		}
		if time.Now().After(deadline) {
			stop()
			return "", nil, fmt.Errorf("stripe-mock did not listen on %s within 20 s: %s", httpAddr, out.String())
		}
		time.Sleep(25 * time.Millisecond)
	}
}

// StripeMock runs stripe-mock for one test and returns its URL.
func StripeMock(t testing.TB) string {
	t.Helper()
	u, stop, err := StartStripeMock()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(stop)
	return u
}

// Fixture holds ids of stripe-mock's subscription fixture, read through
// the real client so the tests follow the fixture rather than hard-code it.
type Fixture struct {
	Customer, Subscription, Price, Item string
}

// ReadFixture asks the stripe-mock at mockURL for its fixture subscription.
func ReadFixture(t testing.TB, mockURL string) Fixture {
	t.Helper()
	tr := &http.Transport{}
	defer tr.CloseIdleConnections()
	b := stripe.GetBackendWithConfig(stripe.APIBackend, &stripe.BackendConfig{
		URL: stripe.String(mockURL), HTTPClient: &http.Client{Transport: tr, Timeout: 10 * time.Second},
		LeveledLogger: &stripe.LeveledLogger{Level: stripe.LevelNull},
	})
	api := client.New(StripeKey, &stripe.Backends{API: b, Connect: b, Uploads: b})
	params := &stripe.SubscriptionListParams{Customer: stripe.String("cus_fixture")}
	params.Single = true
	it := api.Subscriptions.List(params)
	for it.Next() {
		s := it.Subscription()
		if s.Customer != nil && s.Items != nil && len(s.Items.Data) > 0 && s.Items.Data[0].Price != nil {
			return Fixture{Customer: s.Customer.ID, Subscription: s.ID, Price: s.Items.Data[0].Price.ID, Item: s.Items.Data[0].ID}
		}
	}
	t.Fatalf("stripe-mock returned no subscription with items (err %v)", it.Err())
	return Fixture{}
}
