package billing

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"net"
	"net/mail"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
	"github.com/monkeythorn/meet/internal/testcert"
)

const (
	smtpUser = "AKIAMEETTEST"
	smtpPass = "s3cret+pass/word"
)

// received is one message the test SMTP server accepted.
type received struct {
	authUser, from string
	to             []string
	data           []byte
	tls            bool
}

// smtpSink is a real SMTP server (emersion/go-smtp) that requires TLS
// before AUTH PLAIN and keeps what it receives.
type smtpSink struct {
	mu   sync.Mutex
	msgs []received
}

func (k *smtpSink) NewSession(c *smtp.Conn) (smtp.Session, error) {
	return &sinkSession{sink: k, conn: c}, nil
}

func (k *smtpSink) messages() []received {
	k.mu.Lock()
	defer k.mu.Unlock()
	return append([]received(nil), k.msgs...)
}

type sinkSession struct {
	sink *smtpSink
	conn *smtp.Conn
	cur  received
}

func (s *sinkSession) AuthMechanisms() []string { return []string{sasl.Plain} }

func (s *sinkSession) Auth(mech string) (sasl.Server, error) {
	return sasl.NewPlainServer(func(identity, user, pass string) error {
		if user != smtpUser || pass != smtpPass {
			return errors.New("bad credentials")
		}
		s.cur.authUser = user
		return nil
	}), nil
}

func (s *sinkSession) Mail(from string, _ *smtp.MailOptions) error {
	if s.cur.authUser == "" {
		return &smtp.SMTPError{Code: 530, Message: "authentication required"}
	}
	s.cur.from = from
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
	s.sink.mu.Lock()
	s.sink.msgs = append(s.sink.msgs, received{authUser: s.cur.authUser, from: s.cur.from, to: s.cur.to, data: b, tls: s.cur.tls})
	s.sink.mu.Unlock()
	return nil
}

func (s *sinkSession) Reset()        { s.cur = received{authUser: s.cur.authUser} }
func (s *sinkSession) Logout() error { return nil }

// startSMTP serves on 127.0.0.1: STARTTLS on a plain listener, or implicit
// TLS, and returns the SMTP URL and the pool trusting its certificate.
func startSMTP(t *testing.T, implicitTLS bool) (*smtpSink, string, *x509.CertPool) {
	t.Helper()
	cert, pool := testcert.Loopback(t, 1)
	sink := &smtpSink{}
	srv := smtp.NewServer(sink)
	srv.Domain = "127.0.0.1"
	srv.TLSConfig = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	srv.ReadTimeout, srv.WriteTimeout = 10*time.Second, 10*time.Second
	var l net.Listener
	var err error
	scheme := "smtp"
	if implicitTLS {
		l, err = tls.Listen("tcp", "127.0.0.1:0", srv.TLSConfig)
		scheme = "smtps"
	} else {
		l, err = net.Listen("tcp", "127.0.0.1:0")
	}
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { defer close(done); _ = srv.Serve(l) }()
	t.Cleanup(func() { srv.Close(); <-done })
	return sink, scheme + "://" + smtpUser + ":" + strings.ReplaceAll(smtpPass, "/", "%2F") + "@" + l.Addr().String(), pool
}

func TestCheckoutWebhookMailsAccessCode(t *testing.T) {
	for _, tc := range []struct {
		name     string
		implicit bool
	}{{"STARTTLS", false}, {"SMTPS", true}} {
		t.Run(tc.name, func(t *testing.T) {
			checkGoroutines(t)
			sink, smtpURL, pool := startSMTP(t, tc.implicit)
			h := newHarness(t, func(c *Config) {
				c.SMTPURL, c.MailFrom = smtpURL, "MonkeyThorn Meet <billing@meet.example.test>"
				c.MailTLSConfig = &tls.Config{RootCAs: pool}
			})
			payload := eventJSON(t, "evt_checkout_"+tc.name, "checkout.session.completed", checkoutCompleted(h.fx.customer, "pro"))
			hdr := signed(payload, testWebhookSecret, time.Now())
			if code, body := h.postWebhook(t, payload, hdr); code != 200 {
				t.Fatalf("webhook: %d %s\nlogs:\n%s", code, body, h.logs)
			}
			// Stripe retrying the same event must not mail twice.
			if code, body := h.postWebhook(t, payload, hdr); code != 200 || !strings.Contains(body, "duplicate") {
				t.Fatalf("replay: %d %s", code, body)
			}
			msgs := sink.messages()
			if len(msgs) != 1 {
				t.Fatalf("server received %d messages, want 1", len(msgs))
			}
			m := msgs[0]
			if !m.tls || m.authUser != smtpUser || m.from != "billing@meet.example.test" || len(m.to) != 1 || m.to[0] != testBuyerEmail {
				t.Fatalf("envelope: tls=%v user=%q from=%q to=%v", m.tls, m.authUser, m.from, m.to)
			}
			msg, err := mail.ReadMessage(bytes.NewReader(m.data))
			if err != nil {
				t.Fatalf("message does not parse: %v\n%s", err, m.data)
			}
			if !strings.HasPrefix(msg.Header.Get("Content-Type"), "text/plain") || msg.Header.Get("Subject") == "" {
				t.Fatalf("headers: %v", msg.Header)
			}
			body, _ := io.ReadAll(msg.Body)
			want, _ := h.svc.IssueAccessCode(h.fx.customer, "pro")
			if !strings.Contains(string(body), want) {
				t.Fatalf("body lacks code %s:\n%s", want, body)
			}
			// The mailed code works: Stripe (stripe-mock) reports an active
			// subscription for the customer.
			ent, err := h.svc.Entitlement(t.Context(), want)
			if err != nil || ent.Plan.ID != "pro" || ent.Customer != h.fx.customer {
				t.Fatalf("Entitlement(mailed code) = %+v, %v", ent, err)
			}
			logs := h.logs.String()
			for _, leak := range []string{want, normalizeCode(want), testBuyerEmail, testBuyerName, h.fx.customer, smtpPass} {
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
	checkGoroutines(t)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close() // nothing listens: connection refused
	h := newHarness(t, func(c *Config) { c.SMTPURL, c.MailFrom = "smtp://"+addr, "billing@meet.example.test" })
	payload := eventJSON(t, "evt_mailfail", "checkout.session.completed", checkoutCompleted(h.fx.customer, "pro"))
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
	checkGoroutines(t)
	sink := &smtpSink{}
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
	m, err := newMailer(Config{SMTPURL: "smtp://" + smtpUser + ":pw@mail.example.test:587", MailFrom: "a@b.test", Now: time.Now})
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
	if n := len(sink.messages()); n != 0 {
		t.Fatalf("server received %d messages", n)
	}
}
