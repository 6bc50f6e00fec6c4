package billingtest

import (
	"bytes"
	"errors"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// StripeCall is what the recorder saw of one Stripe API request.
type StripeCall struct {
	Method, Path, IdempotencyKey string
	Form                         url.Values // the body, or the query of a GET
	Failed                       bool       // failed on purpose (Fail was set)
}

// StripeRecorder is an http.RoundTripper between stripe-go and
// stripe-mock: it records every request, fails them all while Fail is set
// (Stripe unreachable) and can rewrite responses (states stripe-mock's
// fixtures never show).
type StripeRecorder struct {
	Fail atomic.Bool

	next    *http.Transport
	mu      sync.Mutex
	calls   []StripeCall
	rewrite func(path string, status int, body []byte) (int, []byte)
}

// NewStripeRecorder returns a recorder whose idle connections close when
// the test ends.
func NewStripeRecorder(t testing.TB) *StripeRecorder {
	r := &StripeRecorder{next: &http.Transport{Proxy: nil, DialContext: (&net.Dialer{Timeout: 5 * time.Second}).DialContext}}
	t.Cleanup(r.next.CloseIdleConnections)
	return r
}

// Client is an http.Client through the recorder, for
// billing.Config.HTTPClient.
func (r *StripeRecorder) Client() *http.Client {
	return &http.Client{Transport: r, Timeout: 10 * time.Second}
}

// RoundTrip implements http.RoundTripper.
func (r *StripeRecorder) RoundTrip(req *http.Request) (*http.Response, error) {
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
	call := StripeCall{Method: req.Method, Path: req.URL.Path, IdempotencyKey: req.Header.Get("Idempotency-Key"), Form: form, Failed: r.Fail.Load()}
	r.mu.Lock()
	r.calls = append(r.calls, call)
	rewrite := r.rewrite
	r.mu.Unlock()
	if call.Failed {
		return nil, errors.New("billingtest: simulated Stripe outage")
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
	resp.StatusCode, b = rewrite(req.URL.Path, resp.StatusCode, b)
	resp.Body, resp.ContentLength = io.NopCloser(bytes.NewReader(b)), int64(len(b))
	resp.Header.Del("Content-Length")
	return resp, nil
}

// SetRewrite makes f rewrite every response from now on; nil stops it.
func (r *StripeRecorder) SetRewrite(f func(path string, status int, body []byte) (int, []byte)) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.rewrite = f
}

// Requests returns the recorded calls whose path contains part.
func (r *StripeRecorder) Requests(part string) []StripeCall {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []StripeCall
	for _, c := range r.calls {
		if strings.Contains(c.Path, part) {
			out = append(out, c)
		}
	}
	return out
}
