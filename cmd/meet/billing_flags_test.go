package main

import (
	"bytes"
	"context"
	"encoding/json"
	"github.com/monkeythorn/meet/internal/leaktest"
	"github.com/monkeythorn/meet/internal/logbuf"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"
)

const (
	testKey     = "sk_test_cmdflags123"
	testWebhook = "whsec_cmdflags"
	testPlans   = `[{"id":"pro","price_id":"price_flat","metered_price_id":"price_meter"},{"id":"free","max_participants":4}]`
)

func TestBillingFlags(t *testing.T) {
	tests := []struct {
		name    string
		args    []string
		env     func(string) string
		check   func(t *testing.T, c *config)
		wantErr string
	}{
		{"off by default", nil, env("MEET_SECRET", secret32), func(t *testing.T, c *config) {
			if c.Billing.StripeKey != "" || c.Billing.Plans != nil || c.Billing.SMTPURL != "" {
				t.Errorf("billing config without a key: %+v", c.Billing)
			}
		}, ""},
		{"env", nil, env("MEET_SECRET", secret32, "MEET_STRIPE_KEY", testKey, "MEET_STRIPE_WEBHOOK_SECRET", testWebhook,
			"MEET_STRIPE_API_URL", "http://127.0.0.1:12111", "MEET_PLANS", testPlans,
			"MEET_SMTP_URL", "smtp://u:p@mail.example.com:587", "MEET_MAIL_FROM", "Meet <billing@example.com>"), func(t *testing.T, c *config) {
			b := c.Billing
			if b.StripeKey != testKey || b.WebhookSecret != testWebhook || b.StripeBackendURL != "http://127.0.0.1:12111" ||
				b.SMTPURL != "smtp://u:p@mail.example.com:587" || b.MailFrom != "Meet <billing@example.com>" {
				t.Errorf("%+v", b)
			}
			if len(b.Plans) != 2 || b.Plans[0].ID != "free" || b.Plans[0].MaxParticipants != 4 ||
				b.Plans[1].PriceID != "price_flat" || b.Plans[1].MeteredPriceID != "price_meter" {
				t.Errorf("plans %+v", b.Plans)
			}
		}, ""},
		{"flag beats env", []string{"--stripe-key", "sk_test_flag", "--plans", `[{"id":"pro","price_id":"price_f"}]`},
			env("MEET_SECRET", secret32, "MEET_STRIPE_KEY", testKey), func(t *testing.T, c *config) {
				if c.Billing.StripeKey != "sk_test_flag" || c.Billing.Plans[1].PriceID != "price_f" {
					t.Errorf("%+v", c.Billing)
				}
			}, ""},
		{"bad plans", nil, env("MEET_SECRET", secret32, "MEET_STRIPE_KEY", testKey, "MEET_PLANS", `{"id":"pro"}`), nil, "--plans"},
		{"smtp without key", []string{"--smtp-url", "smtp://mail.example.com:587"}, env("MEET_SECRET", secret32), nil, "--smtp-url is set but billing is off"},
		{"webhook secret without key", nil, env("MEET_SECRET", secret32, "MEET_STRIPE_WEBHOOK_SECRET", testWebhook), nil, "--stripe-webhook-secret is set"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := parseConfig(tt.args, tt.env, &bytes.Buffer{})
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err %v, want one mentioning %q", err, tt.wantErr)
				}
				if strings.Contains(err.Error(), testKey) || strings.Contains(err.Error(), testWebhook) {
					t.Errorf("error shows a secret: %v", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			tt.check(t, c)
		})
	}
}

// TestRunBillingNeedsPublicURL: billing on without somewhere for Checkout
// to send buyers back is a configuration error (exit 2) that says so.
func TestRunBillingNeedsPublicURL(t *testing.T) {
	leaktest.Check(t)
	var stdout, stderr bytes.Buffer
	code := run(context.Background(), append([]string{"--listen", "127.0.0.1:0", "--udp-port", "0", "--media-ip", "127.0.0.1"}, noFixedPorts...),
		env("MEET_SECRET", secret32, "MEET_STRIPE_KEY", testKey, "MEET_STRIPE_WEBHOOK_SECRET", testWebhook, "MEET_PLANS", testPlans), &stdout, &stderr)
	if code != 2 || !strings.Contains(stderr.String(), "--public-url") {
		t.Errorf("exit %d, stderr %q; want 2 naming --public-url", code, stderr.String())
	}
}

// TestRunWithBilling starts the binary's wiring with billing on and reads
// the plans the page would show; the Stripe key never reaches the log.
func TestRunWithBilling(t *testing.T) {
	leaktest.Check(t)
	var stdout, stderr logbuf.Buffer
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan int, 1)
	go func() {
		done <- run(ctx, append([]string{"--listen", "127.0.0.1:0", "--udp-port", "0", "--media-ip", "127.0.0.1", "--public-url", "https://meet.example.test", "--log-level", "debug"}, noFixedPorts...),
			env("MEET_SECRET", secret32, "MEET_STRIPE_KEY", testKey, "MEET_STRIPE_WEBHOOK_SECRET", testWebhook, "MEET_PLANS", testPlans), &stdout, &stderr)
	}()
	addr := regexp.MustCompile(`meet is running.* http=(127\.0\.0\.1:\d+)`)
	deadline := time.Now().Add(5 * time.Second)
	var m []string
	for m = addr.FindStringSubmatch(stderr.String()); m == nil; m = addr.FindStringSubmatch(stderr.String()) {
		if time.Now().After(deadline) {
			cancel()
			t.Fatalf("not running after 5 s:\n%s", stderr.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
	tr := &http.Transport{}
	defer tr.CloseIdleConnections()
	resp, err := (&http.Client{Transport: tr, Timeout: 5 * time.Second}).Get("http://" + m[1] + "/api/plans")
	if err != nil {
		t.Fatal(err)
	}
	var plans struct {
		Billing bool `json:"billing"`
		Plans   []struct {
			ID              string `json:"id"`
			Paid            bool   `json:"paid"`
			MaxParticipants int    `json:"max_participants"`
		} `json:"plans"`
	}
	err = json.NewDecoder(resp.Body).Decode(&plans)
	resp.Body.Close()
	if err != nil || !plans.Billing || len(plans.Plans) != 2 || plans.Plans[0].MaxParticipants != 4 || !plans.Plans[1].Paid {
		t.Errorf("GET /api/plans: %d %+v %v", resp.StatusCode, plans, err)
	}
	cancel()
	select {
	case code := <-done:
		if code != 0 {
			t.Errorf("exit %d:\n%s", code, stderr.String())
		}
	case <-time.After(15 * time.Second):
		t.Fatal("no exit 15 s after the shutdown signal")
	}
	for _, secret := range []string{testKey, testWebhook} {
		if strings.Contains(stderr.String()+stdout.String(), secret) {
			t.Errorf("output shows %q", secret)
		}
	}
}
