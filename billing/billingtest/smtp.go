package billingtest

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"net"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"

	"github.com/monkeythorn/meet/internal/testcert"
)

// Credentials the MailSink accepts; the tests put them in their SMTP URL.
const (
	SMTPUser = "AKIAMEETTEST"
	SMTPPass = "s3cret+pass/word" // with characters a URL must escape
)

// Mail is one message the MailSink accepted.
type Mail struct {
	AuthUser, From string
	To             []string
	Data           []byte
	TLS            bool // arrived over TLS (STARTTLS or implicit)
}

// MailSink is a real SMTP server (emersion/go-smtp) that, like SES, wants
// TLS before AUTH PLAIN and takes mail only once authenticated.
type MailSink struct {
	// URL is the smtp:// (STARTTLS) or smtps:// (implicit TLS) URL with
	// the credentials, for billing.Config.SMTPURL.
	URL  string
	Addr string
	// Pool trusts the sink's certificate (billing.Config.MailTLSConfig).
	Pool *x509.CertPool

	mu   sync.Mutex
	msgs []Mail
}

// StartMailSink serves on 127.0.0.1 until the test ends: STARTTLS on a
// plain listener, or implicit TLS.
func StartMailSink(t testing.TB, implicitTLS bool) *MailSink {
	t.Helper()
	cert, pool := testcert.Loopback(t, 1)
	k := &MailSink{Pool: pool}
	srv := smtp.NewServer(k)
	srv.Domain = "127.0.0.1"
	srv.TLSConfig = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	srv.ReadTimeout, srv.WriteTimeout = 10*time.Second, 10*time.Second
	srv.ErrorLog = discard{}
	var (
		l      net.Listener
		err    error
		scheme = "smtp"
	)
	if implicitTLS {
		l, err = tls.Listen("tcp", "127.0.0.1:0", srv.TLSConfig)
		scheme = "smtps"
	} else {
		l, err = net.Listen("tcp", "127.0.0.1:0")
	}
	if err != nil {
		t.Fatal(err)
	}
	k.Addr = l.Addr().String()
	k.URL = scheme + "://" + url.UserPassword(SMTPUser, SMTPPass).String() + "@" + k.Addr
	done := make(chan struct{})
	go func() { defer close(done); _ = srv.Serve(l) }()
	t.Cleanup(func() { _ = srv.Close(); <-done })
	return k
}

// Messages returns what the sink accepted so far.
func (k *MailSink) Messages() []Mail {
	k.mu.Lock()
	defer k.mu.Unlock()
	return append([]Mail(nil), k.msgs...)
}

// NewSession implements smtp.Backend.
func (k *MailSink) NewSession(c *smtp.Conn) (smtp.Session, error) {
	return &sinkSession{sink: k, conn: c}, nil
}

type sinkSession struct {
	sink *MailSink
	conn *smtp.Conn
	cur  Mail
}

func (s *sinkSession) AuthMechanisms() []string { return []string{sasl.Plain} }

func (s *sinkSession) Auth(string) (sasl.Server, error) {
	return sasl.NewPlainServer(func(_, user, pass string) error {
		if user != SMTPUser || pass != SMTPPass {
			return errors.New("bad credentials")
		}
		s.cur.AuthUser = user
		return nil
	}), nil
}

func (s *sinkSession) Mail(from string, _ *smtp.MailOptions) error {
	if s.cur.AuthUser == "" {
		return &smtp.SMTPError{Code: 530, Message: "authentication required"}
	}
	s.cur.From = from
	return nil
}

func (s *sinkSession) Rcpt(to string, _ *smtp.RcptOptions) error {
	s.cur.To = append(s.cur.To, to)
	return nil
}

func (s *sinkSession) Data(r io.Reader) error {
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	m := s.cur
	m.Data = b
	_, m.TLS = s.conn.TLSConnectionState()
	s.sink.mu.Lock()
	s.sink.msgs = append(s.sink.msgs, m)
	s.sink.mu.Unlock()
	return nil
}

func (s *sinkSession) Reset()        { s.cur = Mail{AuthUser: s.cur.AuthUser} }
func (s *sinkSession) Logout() error { return nil }

// discard silences go-smtp's own log.
type discard struct{}

func (discard) Printf(string, ...any) {}
func (discard) Println(...any)        {}
