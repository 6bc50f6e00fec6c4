package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"os/signal"
	"syscall"
	"time"

	"golang.org/x/crypto/acme/autocert"

	"github.com/monkeythorn/meet/server"
)

// tlsSetup is how the binary terminates TLS: nil config for plain HTTP
// (behind a proxy), automatic certificates for --domain, or files.
type tlsSetup struct {
	cfg   *tls.Config
	certs *server.CertFiles // --tls-cert: reloaded on SIGHUP
	acme  *autocert.Manager // --domain: answers HTTP-01 on --http-listen
}

func newTLSSetup(o opsFlags) (*tlsSetup, error) {
	switch {
	case o.TLSCert != "":
		certs, err := server.LoadCertFiles(o.TLSCert, o.TLSKey)
		if err != nil {
			return nil, err
		}
		return &tlsSetup{cfg: server.TLSConfig(certs.GetCertificate), certs: certs}, nil
	case o.Domain != "":
		ac := server.ACMEConfig{Domain: o.Domain, CacheDir: o.CertCache, DirectoryURL: o.ACMEDirectory, Email: o.ACMEEmail}
		if o.ACMECAFile != "" {
			pool, err := caPool(o.ACMECAFile)
			if err != nil {
				return nil, err
			}
			ac.HTTPClient = &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{
				TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}}}
		}
		m, err := server.NewACME(ac)
		if err != nil {
			return nil, err
		}
		return &tlsSetup{cfg: server.ACMETLSConfig(m), acme: m}, nil
	}
	return &tlsSetup{}, nil
}

// caPool is the system roots plus the PEM certificates in file.
func caPool(file string) (*x509.CertPool, error) {
	pem, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("--acme-ca-file: %v", err)
	}
	pool, err := x509.SystemCertPool()
	if err != nil {
		pool = x509.NewCertPool()
	}
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("--acme-ca-file %s: no PEM certificate in it", file)
	}
	return pool, nil
}

// embeddedTURN turns the TURN flags into the server's setting; nil when
// every TURN port is 0 or no relay address can be found.
func embeddedTURN(c *config, ts *tlsSetup, log *slog.Logger) *server.EmbeddedTURN {
	o := c.Ops
	tlsPort := o.TURNTLSPort
	if ts.cfg == nil {
		tlsPort = 0 // TURN over TLS only with the certificate HTTPS uses
	}
	if o.TURNUDPPort == 0 && o.TURNTCPPort == 0 && tlsPort == 0 {
		return nil
	}
	relay := relayIP(c)
	if relay == nil {
		log.Warn("embedded TURN is off: no address for relays; set --public-ip (or --media-ip)")
		return nil
	}
	e := &server.EmbeddedTURN{Host: turnHost(c, relay), RelayIP: relay, RelayPortMin: o.RelayPortMin, RelayPortMax: o.RelayPortMax}
	c.Limits.TURN.apply(e)
	// Behind 1:1 NAT the public IP is not on any interface: relays bind
	// the media IP (or all) and announce the public one.
	if c.PublicIP != "" {
		e.RelayBindIP = net.IPv4zero
		if c.MediaIP != "" {
			e.RelayBindIP = net.ParseIP(c.MediaIP)
		}
	}
	bind := c.MediaIP // "" = all interfaces
	addr := func(port int) string {
		if port == 0 {
			return ""
		}
		return net.JoinHostPort(bind, fmt.Sprint(port))
	}
	e.UDPAddr, e.TCPAddr, e.TLSAddr = addr(o.TURNUDPPort), addr(o.TURNTCPPort), addr(tlsPort)
	if e.TLSAddr != "" {
		e.TLSConfig = ts.cfg.Clone()
		e.TLSConfig.NextProtos = nil
	}
	return e
}

// relayIP is the address clients send relayed media to.
func relayIP(c *config) net.IP {
	for _, s := range []string{c.PublicIP, c.MediaIP} {
		if ip := net.ParseIP(s); ip != nil && !ip.IsUnspecified() {
			return ip
		}
	}
	if c.Dev {
		return net.IPv4(127, 0, 0, 1)
	}
	return firstGlobalIPv4()
}

// turnHost is the name in turn: URLs: the domain when there is one (TURN
// over TLS needs it to match the certificate), else the relay IP.
func turnHost(c *config, relay net.IP) string {
	if c.Ops.Domain != "" {
		return c.Ops.Domain
	}
	return relay.String()
}

// firstGlobalIPv4 is the first public-looking address of this host, for a
// server with its public IP on an interface and no flags set.
func firstGlobalIPv4() net.IP {
	addrs, _ := net.InterfaceAddrs()
	for _, a := range addrs {
		if n, ok := a.(*net.IPNet); ok && n.IP.To4() != nil && n.IP.IsGlobalUnicast() && !n.IP.IsPrivate() {
			return n.IP
		}
	}
	return nil
}

// aux is a plain HTTP listener next to the main one: ACME challenges with
// the redirect to HTTPS, or metrics.
type aux struct {
	name string
	srv  *http.Server
	addr net.Addr
	done chan struct{}
}

// startAux serves srv (built by server.Server.HTTPServer, so it has the
// node's time-outs) on addr.
func startAux(name, addr string, srv *http.Server, log *slog.Logger) (*aux, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, &bindError{flag: name, err: err}
	}
	a := &aux{name: name, addr: ln.Addr(), done: make(chan struct{}), srv: srv}
	go func() {
		defer close(a.done)
		if err := a.srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("serving", "listener", name, "err", err)
		}
	}()
	return a, nil
}

func (a *aux) close(ctx context.Context) {
	if a == nil {
		return
	}
	_ = a.srv.Shutdown(ctx)
	<-a.done
}

// metricsHandler serves /metrics, and with --debug-pprof the pprof
// handlers, which answer loopback clients only (the flag already requires
// a loopback listener; this holds if a proxy is put in front).
func metricsHandler(srv *server.Server, pprofOn bool) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", srv.Metrics().Handler())
	if pprofOn {
		debug := http.NewServeMux()
		debug.HandleFunc("/debug/pprof/", pprof.Index)
		debug.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
		debug.HandleFunc("/debug/pprof/profile", pprof.Profile)
		debug.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
		debug.HandleFunc("/debug/pprof/trace", pprof.Trace)
		mux.Handle("/debug/pprof/", loopbackOnly(debug))
	}
	return mux
}

// loopbackOnly refuses requests that do not come from loopback.
func loopbackOnly(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		host, _, err := net.SplitHostPort(r.RemoteAddr)
		if ip := net.ParseIP(host); err != nil || ip == nil || !ip.IsLoopback() || r.Header.Get("X-Forwarded-For") != "" {
			http.Error(w, "forbidden", http.StatusForbidden)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// startMain serves the server on --listen, over TLS when configured.
func startMain(srv *server.Server, addr string, ts *tlsSetup, log *slog.Logger) (net.Addr, error) {
	if ts.cfg == nil {
		a, err := srv.Start(addr)
		if err != nil {
			return nil, &bindError{flag: "listen", err: err}
		}
		return a, nil
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, &bindError{flag: "listen", err: err}
	}
	go func() {
		if err := srv.ServeTLS(ln, ts.cfg); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("serving HTTPS", "err", err)
		}
	}()
	return ln.Addr(), nil
}

// drainMessage is what the page shows when the server starts draining.
// The web client rejoins at once (another node, or this one restarted);
// an older page that does not is cut off after timeout.
func drainMessage(timeout time.Duration) string {
	return fmt.Sprintf("This server is restarting for maintenance; your call is moving and will be back in a moment (if it is not, rejoin with the same link within %s).", timeout.Round(time.Second))
}

// drainAndStop is the graceful stop: drain (new joins refused, clients
// told, calls may finish) for up to --drain-timeout, then shut down.
func drainAndStop(srv *server.Server, c *config, log *slog.Logger) error {
	log.Info("draining: new joins refused, waiting for calls to end; send the signal again to exit at once",
		"drain_timeout", c.Ops.DrainTimeout.String(), "sessions", srv.Sessions())
	dctx, cancel := context.WithTimeout(context.Background(), c.Ops.DrainTimeout)
	err := srv.Drain(dctx, drainMessage(c.Ops.DrainTimeout))
	cancel()
	if err != nil {
		log.Warn("drain time-out: closing the remaining calls", "sessions", srv.Sessions())
	} else {
		log.Info("all calls ended")
	}
	sctx, cancel := context.WithTimeout(context.Background(), c.ShutdownTimeout)
	defer cancel()
	return srv.Shutdown(sctx)
}

// reloadOnHUP reloads --tls-cert/--tls-key on SIGHUP (after a renewal).
func reloadOnHUP(ts *tlsSetup, log *slog.Logger) (stop func()) {
	if ts.certs == nil {
		return func() {}
	}
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	done := make(chan struct{})
	go func() {
		for {
			select {
			case <-hup:
				if err := ts.certs.Reload(); err != nil {
					log.Error("SIGHUP: keeping the old certificate", "err", err)
					continue
				}
				log.Info("SIGHUP: certificate reloaded", "not_after", ts.certs.NotAfter())
			case <-done:
				return
			}
		}
	}()
	return func() {
		signal.Stop(hup)
		close(done)
	}
}

// runningAttrs are the start-up log line's fields: the URL to open first,
// then this server's own listen addresses, never a client's.
func runningAttrs(srv *server.Server, c *config, addr net.Addr, ts *tlsSetup, acmeHTTP, metricsHTTP *aux) []any {
	scheme := "http"
	if ts.cfg != nil {
		scheme = "https"
	}
	attrs := []any{"open", openURL(c, scheme, addr)}
	if c.Dev {
		attrs = append(attrs, "invite_links", "this machine only: --dev listens on loopback; see docs/deploy.md to invite others")
	}
	attrs = append(attrs, scheme, addr.String(), "media_udp", srv.MediaAddr().String())
	if tcp := srv.ICETCPAddr(); tcp != nil {
		attrs = append(attrs, "ice_tcp", tcp.String())
	}
	if udp, tcp, tlsA := srv.TURNAddrs(); udp != nil || tcp != nil || tlsA != nil {
		attrs = append(attrs, "turn_udp", fmt.Sprint(udp), "turn_tcp", fmt.Sprint(tcp), "turn_tls", fmt.Sprint(tlsA))
	}
	if acmeHTTP != nil {
		attrs = append(attrs, "acme_http", acmeHTTP.addr.String())
	}
	if metricsHTTP != nil {
		attrs = append(attrs, "metrics", metricsHTTP.addr.String())
	}
	return attrs
}

// openURL is the address to type into a browser: the public URL when one
// is set, else the bound address, with "localhost" for loopback and the
// wildcard (browsers allow the camera on http://localhost only).
func openURL(c *config, scheme string, addr net.Addr) string {
	if c.PublicURL != "" {
		return c.PublicURL
	}
	host, port, err := net.SplitHostPort(addr.String())
	if err != nil {
		return scheme + "://" + addr.String()
	}
	if ip := net.ParseIP(host); ip == nil || ip.IsLoopback() || ip.IsUnspecified() {
		host = "localhost"
	}
	return scheme + "://" + net.JoinHostPort(host, port)
}
