package server

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net"
	"net/http"
	"sync/atomic"
	"time"

	"golang.org/x/crypto/acme"
	"golang.org/x/crypto/acme/autocert"
)

// TLSConfig is how the binary serves HTTPS: TLS 1.3 only (the TLS promise
// in DESIGN.md), certificates from getCert. HTTP/2 is not offered: the
// signaling WebSocket needs HTTP/1.1, and one protocol is less to go wrong.
func TLSConfig(getCert func(*tls.ClientHelloInfo) (*tls.Certificate, error)) *tls.Config {
	return &tls.Config{
		MinVersion:     tls.VersionTLS13,
		GetCertificate: getCert,
		NextProtos:     []string{"http/1.1"},
	}
}

// ServeTLS serves HTTPS on ln with cfg until Shutdown. Requests then carry
// r.TLS, which turns on HSTS.
func (s *Server) ServeTLS(ln net.Listener, cfg *tls.Config) error {
	return s.Serve(tls.NewListener(ln, cfg))
}

// CertFiles is a certificate and key loaded from PEM files, swapped in
// place by Reload (the binary calls it on SIGHUP after certbot or another
// tool renewed them). A failed reload keeps the previous certificate.
type CertFiles struct {
	certFile, keyFile string
	cert              atomic.Pointer[tls.Certificate]
}

// LoadCertFiles reads the pair once; it fails if they do not load or match.
func LoadCertFiles(certFile, keyFile string) (*CertFiles, error) {
	c := &CertFiles{certFile: certFile, keyFile: keyFile}
	if err := c.Reload(); err != nil {
		return nil, err
	}
	return c, nil
}

// Reload reads the files again.
func (c *CertFiles) Reload() error {
	cert, err := tls.LoadX509KeyPair(c.certFile, c.keyFile)
	if err != nil {
		return fmt.Errorf("%w: loading TLS certificate %s and key %s: %v", ErrConfig, c.certFile, c.keyFile, err)
	}
	c.cert.Store(&cert)
	return nil
}

// GetCertificate is the tls.Config hook.
func (c *CertFiles) GetCertificate(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	return c.cert.Load(), nil
}

// NotAfter is when the loaded certificate expires, for the log.
func (c *CertFiles) NotAfter() time.Time {
	cert := c.cert.Load()
	if cert.Leaf != nil {
		return cert.Leaf.NotAfter
	}
	if leaf, err := x509.ParseCertificate(cert.Certificate[0]); err == nil {
		return leaf.NotAfter
	}
	return time.Time{}
}

// ACMEConfig configures automatic certificates (Let's Encrypt or any ACME
// CA) for one domain.
type ACMEConfig struct {
	Domain string // required: the only name certificates are requested for
	// CacheDir keeps the account key and certificates across restarts. It
	// is the one place the server writes to disk. Required: without it
	// every restart asks the CA again and soon hits its rate limits.
	CacheDir string
	// DirectoryURL is the CA's ACME directory; default Let's Encrypt.
	// Staging or a test CA (Pebble) in tests.
	DirectoryURL string
	Email        string       // optional contact for expiry notices
	HTTPClient   *http.Client // talks to the CA; tests trust Pebble's root with it
}

// NewACME returns the certificate manager. Its GetCertificate goes into
// TLSConfig, and its HTTPHandler must answer on port 80 for the HTTP-01
// challenge (it redirects every other request to HTTPS).
func NewACME(cfg ACMEConfig) (*autocert.Manager, error) {
	if cfg.Domain == "" || cfg.CacheDir == "" {
		return nil, fmt.Errorf("%w: automatic certificates need a domain and a cache directory", ErrConfig)
	}
	m := &autocert.Manager{
		Prompt:     autocert.AcceptTOS,
		Cache:      autocert.DirCache(cfg.CacheDir),
		HostPolicy: autocert.HostWhitelist(cfg.Domain),
		Email:      cfg.Email,
	}
	if cfg.DirectoryURL != "" || cfg.HTTPClient != nil {
		m.Client = &acme.Client{DirectoryURL: cfg.DirectoryURL, HTTPClient: cfg.HTTPClient}
	}
	return m, nil
}

// ACMETLSConfig is TLSConfig for certificates from m. It also offers the
// tls-alpn-01 challenge protocol, which autocert tries first, so a server
// whose port 80 is closed still gets certificates.
func ACMETLSConfig(m *autocert.Manager) *tls.Config {
	c := TLSConfig(m.GetCertificate)
	c.NextProtos = append(c.NextProtos, acme.ALPNProto)
	return c
}
