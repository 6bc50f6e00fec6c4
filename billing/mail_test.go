package billing

import (
	"bytes"
	"context"
	"crypto/tls"
	"github.com/monkeythorn/meet/billing/billingtest"
	"github.com/monkeythorn/meet/internal/leaktest"
	"io"
	"net"
	"net/mail"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-smtp"
)

func TestCheckoutWebhookMailsAccessCode(t *testing.T) {
	for _, tc := range []struct {
		name     string
		implicit bool
	}{{"STARTTLS", false}, {"SMTPS", true}} {
		t.Run(tc.name, func(t *testing.T) {
			leaktest.Check(t)
			sink := billingtest.StartMailSink(t, tc.implicit)
			smtpURL, pool := sink.URL, sink.Pool
			h := newHarness(t, func(c *Config) {
				c.SMTPURL, c.MailFrom = smtpURL, "MonkeyThorn Meet <billing@meet.example.test>"
				c.MailTLSConfig = &tls.Config{RootCAs: pool}
			})
			payload := eventJSON(t, "evt_checkout_"+tc.name, "checkout.session.completed", checkoutCompleted(h.fx.Customer, "pro"))
			hdr := signed(payload, testWebhookSecret, time.Now())
			if code, body := h.postWebhook(t, payload, hdr); code != 200 {
				t.Fatalf("webhook: %d %s\nlogs:\n%s", code, body, h.logs)
			}
			// Stripe retrying the same event must not mail twice.
			if code, body := h.postWebhook(t, payload, hdr); code != 200 || !strings.Contains(body, "duplicate") {
				t.Fatalf("replay: %d %s", code, body)
			}
			msgs := sink.Messages()
			if len(msgs) != 1 {
				t.Fatalf("server received %d messages, want 1", len(msgs))
			}
			m := msgs[0]
			if !m.TLS || m.AuthUser != billingtest.SMTPUser || m.From != "billing@meet.example.test" || len(m.To) != 1 || m.To[0] != testBuyerEmail {
				t.Fatalf("envelope: tls=%v user=%q from=%q to=%v", m.TLS, m.AuthUser, m.From, m.To)
			}
			msg, err := mail.ReadMessage(bytes.NewReader(m.Data))
			if err != nil {
				t.Fatalf("message does not parse: %v\n%s", err, m.Data)
			}
			if !strings.HasPrefix(msg.Header.Get("Content-Type"), "text/plain") || msg.Header.Get("Subject") == "" {
				t.Fatalf("headers: %v", msg.Header)
			}
			body, _ := io.ReadAll(msg.Body)
			want, _ := h.svc.IssueAccessCode(h.fx.Customer, "pro")
			if !strings.Contains(string(body), want) {
				t.Fatalf("body lacks code %s:\n%s", want, body)
			}
			// The mailed code works: Stripe (stripe-mock) reports an active
			// subscription for the customer.
			ent, err := h.svc.Entitlement(t.Context(), want)
			if err != nil || ent.Plan.ID != "pro" || ent.Customer != h.fx.Customer {
				t.Fatalf("Entitlement(mailed code) = %+v, %v", ent, err)
			}
			logs := h.logs.String()
			for _, leak := range []string{want, normalizeCode(want), testBuyerEmail, testBuyerName, h.fx.Customer, billingtest.SMTPPass} {
				if strings.Contains(logs, leak) {
					t.Errorf("logs contain %q:\n%s", leak, logs)
				}
			}
			if !strings.Contains(logs, "access code mailed") {
				t.Errorf("no mail log line:\n%s", logs)
			}
		})
	}
}

// A failing mail server makes the webhook answer 500 so that Stripe
// retries, and the event is not remembered as handled.
func TestCheckoutWebhookMailFailureIsRetried(t *testing.T) {
	leaktest.Check(t)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close() // nothing listens: connection refused
	h := newHarness(t, func(c *Config) { c.SMTPURL, c.MailFrom = "smtp://"+addr, "billing@meet.example.test" })
	payload := eventJSON(t, "evt_mailfail", "checkout.session.completed", checkoutCompleted(h.fx.Customer, "pro"))
	for i := 0; i < 2; i++ {
		code, body := h.postWebhook(t, payload, signed(payload, testWebhookSecret, time.Now()))
		if code != 500 || !strings.Contains(body, "retry") {
			t.Fatalf("attempt %d: %d %s", i, code, body)
		}
	}
}

// A server that offers no STARTTLS never sees the password: net/smtp's
// PLAIN refuses an unencrypted connection to a non-loopback host, and the
// mail fails instead.
func TestMailRefusesPasswordWithoutTLS(t *testing.T) {
	leaktest.Check(t)
	sink := &billingtest.MailSink{}
	srv := smtp.NewServer(sink) // no TLSConfig: STARTTLS not offered
	srv.Domain = "mail.example.test"
	srv.AllowInsecureAuth = true // the server would take it; the client must not send it
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { defer close(done); _ = srv.Serve(l) }()
	defer func() { srv.Close(); <-done }()
	m, err := newMailer(Config{SMTPURL: "smtp://" + billingtest.SMTPUser + ":pw@mail.example.test:587", MailFrom: "a@b.test", Now: time.Now})
	if err != nil {
		t.Fatal(err)
	}
	var d net.Dialer
	m.dialContext = func(ctx context.Context, network, _ string) (net.Conn, error) {
		return d.DialContext(ctx, network, l.Addr().String())
	}
	err = m.send(t.Context(), "x@y.test", "s", "b")
	if err == nil || !strings.Contains(err.Error(), "unencrypted") {
		t.Fatalf("send over plain text with a password: err = %v, want refusal", err)
	}
	if n := len(sink.Messages()); n != 0 {
		t.Fatalf("server received %d messages", n)
	}
}
