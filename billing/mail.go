package billing

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/mail"
	"net/smtp"
	"net/url"
	"strings"
	"time"
)

const defaultMailTimeout = 30 * time.Second

// smtpTarget is a parsed SMTPURL.
type smtpTarget struct {
	implicitTLS bool // smtps://
	host, port  string
	user, pass  string
}

func parseSMTPURL(raw string) (smtpTarget, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return smtpTarget{}, fmt.Errorf("%w: SMTP URL does not parse", ErrInvalidConfig)
	}
	t := smtpTarget{host: u.Hostname(), port: u.Port()}
	switch u.Scheme {
	case "smtp":
		if t.port == "" {
			t.port = "587"
		}
	case "smtps":
		t.implicitTLS = true
		if t.port == "" {
			t.port = "465"
		}
	default:
		return smtpTarget{}, fmt.Errorf("%w: SMTP URL scheme must be smtp:// (STARTTLS) or smtps://", ErrInvalidConfig)
	}
	if t.host == "" {
		return smtpTarget{}, fmt.Errorf("%w: SMTP URL has no host", ErrInvalidConfig)
	}
	if u.User != nil {
		t.user = u.User.Username()
		t.pass, _ = u.User.Password()
	}
	return t, nil
}

// parseMailbox accepts one address and rejects anything that could smuggle
// headers (CR/LF) into the message.
func parseMailbox(s string) (*mail.Address, error) {
	if strings.ContainsAny(s, "\r\n") {
		return nil, errors.New("address contains a line break")
	}
	return mail.ParseAddress(s)
}

// mailer sends the access-code mail. It speaks SMTP with net/smtp: STARTTLS
// whenever the server offers it (and always TLS for smtps://), then AUTH
// PLAIN, which net/smtp refuses over an unencrypted connection to anything
// but localhost, so a password never crosses the network in clear.
type mailer struct {
	target  smtpTarget
	from    *mail.Address
	tls     *tls.Config
	timeout time.Duration
	now     func() time.Time
	// dialContext is net.Dialer's; tests swap it to reach a local server
	// under a non-loopback host name.
	dialContext func(ctx context.Context, network, addr string) (net.Conn, error)
}

func newMailer(cfg Config) (*mailer, error) {
	if cfg.SMTPURL == "" {
		return nil, nil
	}
	t, err := parseSMTPURL(cfg.SMTPURL)
	if err != nil {
		return nil, err
	}
	from, err := parseMailbox(cfg.MailFrom)
	if err != nil {
		return nil, fmt.Errorf("%w: MailFrom: %v", ErrInvalidConfig, err)
	}
	tc := &tls.Config{}
	if cfg.MailTLSConfig != nil {
		tc = cfg.MailTLSConfig.Clone()
	}
	tc.ServerName = t.host
	if tc.MinVersion == 0 {
		tc.MinVersion = tls.VersionTLS12
	}
	var d net.Dialer
	return &mailer{target: t, from: from, tls: tc, timeout: defaultMailTimeout, now: cfg.Now, dialContext: d.DialContext}, nil
}

// send delivers one plain-text message to one recipient.
func (m *mailer) send(ctx context.Context, to, subject, body string) error {
	rcpt, err := parseMailbox(to)
	if err != nil {
		return fmt.Errorf("billing: recipient address: %w", err)
	}
	ctx, cancel := context.WithTimeout(ctx, m.timeout)
	defer cancel()
	c, err := m.dial(ctx)
	if err != nil {
		return err
	}
	defer c.Close()
	stop := context.AfterFunc(ctx, func() { c.Close() })
	defer stop()
	if err := m.deliver(c, rcpt.Address, m.compose(rcpt, subject, body)); err != nil {
		return fmt.Errorf("billing: smtp: %w", err)
	}
	return nil
}

func (m *mailer) dial(ctx context.Context) (*smtp.Client, error) {
	addr := net.JoinHostPort(m.target.host, m.target.port)
	conn, err := m.dialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("billing: smtp dial: %w", err)
	}
	// net/smtp has no context support; the deadline bounds every read and
	// write of the whole conversation, and closing on cancel ends it early.
	deadline, _ := ctx.Deadline()
	_ = conn.SetDeadline(deadline)
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer stop()
	if m.target.implicitTLS {
		tc := tls.Client(conn, m.tls)
		if err := tc.HandshakeContext(ctx); err != nil {
			conn.Close()
			return nil, fmt.Errorf("billing: smtps handshake: %w", err)
		}
		conn = tc
	}
	c, err := smtp.NewClient(conn, m.target.host)
	if err != nil {
		conn.Close()
		return nil, fmt.Errorf("billing: smtp greeting: %w", err)
	}
	return c, nil
}

func (m *mailer) deliver(c *smtp.Client, rcpt string, msg []byte) error {
	if !m.target.implicitTLS {
		if ok, _ := c.Extension("STARTTLS"); ok {
			if err := c.StartTLS(m.tls); err != nil {
				return err
			}
		}
	}
	if m.target.user != "" {
		if err := c.Auth(smtp.PlainAuth("", m.target.user, m.target.pass, m.target.host)); err != nil {
			return err
		}
	}
	if err := c.Mail(m.from.Address); err != nil {
		return err
	}
	if err := c.Rcpt(rcpt); err != nil {
		return err
	}
	w, err := c.Data()
	if err != nil {
		return err
	}
	if _, err := w.Write(msg); err != nil {
		return err
	}
	if err := w.Close(); err != nil {
		return err
	}
	return c.Quit()
}

// compose builds an RFC 5322 message with CRLF line ends. The subject is
// ASCII by construction; the body may be UTF-8.
func (m *mailer) compose(to *mail.Address, subject, body string) []byte {
	var id [12]byte
	_, _ = rand.Read(id[:])
	domain := "localhost"
	if at := strings.LastIndexByte(m.from.Address, '@'); at >= 0 {
		domain = m.from.Address[at+1:]
	}
	var b strings.Builder
	hdr := func(k, v string) { b.WriteString(k + ": " + v + "\r\n") }
	hdr("From", m.from.String())
	hdr("To", to.String())
	hdr("Subject", subject)
	hdr("Date", m.now().UTC().Format(time.RFC1123Z))
	hdr("Message-ID", "<"+hex.EncodeToString(id[:])+"@"+domain+">")
	hdr("MIME-Version", "1.0")
	hdr("Content-Type", "text/plain; charset=utf-8")
	hdr("Content-Transfer-Encoding", "8bit")
	b.WriteString("\r\n")
	b.WriteString(strings.ReplaceAll(strings.ReplaceAll(body, "\r\n", "\n"), "\n", "\r\n"))
	return []byte(b.String())
}

// accessCodeMail is the body of the mail sent after a checkout.
func accessCodeMail(planName, code, publicURL string) (subject, body string) {
	subject = "Your MonkeyThorn Meet access code"
	body = "Thank you for subscribing to MonkeyThorn Meet " + planName + ".\n\n" +
		"Your access code:\n\n    " + code + "\n\n" +
		"Paste it when you start a meeting at " + publicURL + " to use your plan.\n" +
		"Anyone with this code can start meetings billed to your subscription,\n" +
		"so share it only with people you trust. It stops working when the\n" +
		"subscription ends.\n"
	return subject, body
}
