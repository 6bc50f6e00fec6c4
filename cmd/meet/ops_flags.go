package main

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// opsOptions are the self-hosting flags (docs/deploy.md): TLS, embedded
// TURN, ICE-TCP, metrics and drain.
func opsOptions() []option {
	return []option{
		{"domain", "MEET_DOMAIN", "", "domain for automatic certificates (ACME, Let's Encrypt); turns on HTTPS on --listen and HTTP-01 on --http-listen"},
		{"http-listen", "MEET_HTTP_LISTEN", ":80", "with --domain: plain HTTP listener for ACME challenges; everything else is redirected to HTTPS"},
		{"cert-cache", "MEET_CERT_CACHE", "/var/lib/meet/certs", "with --domain: directory keeping the ACME account and certificates; the only place meet writes to"},
		{"acme-directory", "MEET_ACME_DIRECTORY", "", "ACME directory URL; empty = Let's Encrypt production (use its staging URL to try things out)"},
		{"acme-email", "MEET_ACME_EMAIL", "", "contact address given to the ACME CA for expiry notices (optional)"},
		{"acme-ca-file", "MEET_ACME_CA_FILE", "", "PEM file of extra CA certificates to trust when talking to the ACME directory (a private or test CA)"},
		{"tls-cert", "MEET_TLS_CERT", "", "certificate chain PEM file; with --tls-key turns on HTTPS on --listen; reloaded on SIGHUP"},
		{"tls-key", "MEET_TLS_KEY", "", "private key PEM file for --tls-cert"},
		{"turn-udp-port", "MEET_TURN_UDP_PORT", "3478", "embedded TURN server's UDP port; 0 = off"},
		{"turn-tcp-port", "MEET_TURN_TCP_PORT", "3478", "embedded TURN server's TCP port; 0 = off"},
		{"turn-tls-port", "MEET_TURN_TLS_PORT", "5349", "embedded TURN over TLS port, only when HTTPS is on (--domain or --tls-cert); 0 = off"},
		{"turn-relay-ports", "MEET_TURN_RELAY_PORTS", "", "UDP port range for TURN relays, e.g. 49160-49200; empty = any ephemeral port"},
		{"ice-tcp-port", "MEET_ICE_TCP_PORT", "7881", "TCP port for ICE-TCP media, for networks that block UDP; 0 = off"},
		{"metrics-listen", "MEET_METRICS_LISTEN", "127.0.0.1:9090", "address serving Prometheus /metrics; empty = off"},
		{"debug-pprof", "MEET_DEBUG_PPROF", "false", "also serve Go's pprof handlers under /debug/pprof/ on --metrics-listen (heap?gc=1 forces a GC first), for soak tests; only when that listens on loopback"},
		{"drain-timeout", "MEET_DRAIN_TIMEOUT", "30s", "on SIGTERM/SIGINT: how long to wait for calls to end before closing them"},
	}
}

// opsFlags are the parsed self-hosting settings.
type opsFlags struct {
	Domain, HTTPListen, CertCache, ACMEDirectory, ACMEEmail, ACMECAFile string
	TLSCert, TLSKey                                                     string
	TURNUDPPort, TURNTCPPort, TURNTLSPort                               int
	RelayPortMin, RelayPortMax                                          uint16
	ICETCPPort                                                          int
	MetricsListen                                                       string
	DebugPprof                                                          bool
	DrainTimeout                                                        time.Duration
}

// TLS reports whether the binary terminates TLS itself.
func (o opsFlags) TLS() bool { return o.Domain != "" || o.TLSCert != "" }

func parseOpsFlags(v map[string]*string) (opsFlags, error) {
	o := opsFlags{Domain: strings.ToLower(*v["domain"]), HTTPListen: *v["http-listen"], CertCache: *v["cert-cache"],
		ACMEDirectory: *v["acme-directory"], ACMEEmail: *v["acme-email"], ACMECAFile: *v["acme-ca-file"],
		TLSCert: *v["tls-cert"], TLSKey: *v["tls-key"], MetricsListen: *v["metrics-listen"]}
	if err := o.checkTLS(); err != nil {
		return o, err
	}
	ports := []struct {
		name string
		dst  *int
	}{{"turn-udp-port", &o.TURNUDPPort}, {"turn-tcp-port", &o.TURNTCPPort}, {"turn-tls-port", &o.TURNTLSPort}, {"ice-tcp-port", &o.ICETCPPort}}
	for _, p := range ports {
		n, err := strconv.Atoi(*v[p.name])
		if err != nil || n < 0 || n > 65535 {
			return o, fmt.Errorf("--%s %q: want a port number 0-65535 (0 = off)", p.name, *v[p.name])
		}
		*p.dst = n
	}
	if r := *v["turn-relay-ports"]; r != "" {
		lo, hi, ok := strings.Cut(r, "-")
		a, err1 := strconv.ParseUint(lo, 10, 16)
		b, err2 := strconv.ParseUint(hi, 10, 16)
		if !ok || err1 != nil || err2 != nil || a == 0 || a > b {
			return o, fmt.Errorf("--turn-relay-ports %q: want a range such as 49160-49200", r)
		}
		o.RelayPortMin, o.RelayPortMax = uint16(a), uint16(b)
	}
	if o.MetricsListen != "" {
		if _, _, err := net.SplitHostPort(o.MetricsListen); err != nil {
			return o, fmt.Errorf("--metrics-listen %q: want host:port, e.g. 127.0.0.1:9090, or empty for off", o.MetricsListen)
		}
	}
	var err error
	if o.DebugPprof, err = strconv.ParseBool(*v["debug-pprof"]); err != nil {
		return o, fmt.Errorf("--debug-pprof %q: want true or false", *v["debug-pprof"])
	}
	if o.DebugPprof && !loopbackAddr(o.MetricsListen) {
		return o, fmt.Errorf("--debug-pprof needs --metrics-listen on a loopback address such as 127.0.0.1:9090, not %q: profiles reveal memory contents", o.MetricsListen)
	}
	if o.DrainTimeout, err = time.ParseDuration(*v["drain-timeout"]); err != nil || o.DrainTimeout < 0 {
		return o, fmt.Errorf("--drain-timeout %q: want a duration such as 30s (0 = close calls at once)", *v["drain-timeout"])
	}
	return o, nil
}

// loopbackAddr reports whether host:port listens on loopback only.
func loopbackAddr(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

func (o *opsFlags) checkTLS() error {
	switch {
	case o.Domain != "" && o.TLSCert != "":
		return errors.New("--domain and --tls-cert both set: use automatic certificates or your own files, not both")
	case (o.TLSCert == "") != (o.TLSKey == ""):
		return errors.New("--tls-cert and --tls-key go together")
	case o.Domain != "" && (strings.ContainsAny(o.Domain, "/:* ") || !strings.Contains(o.Domain, ".") && o.Domain != "localhost"):
		return fmt.Errorf("--domain %q: want a DNS name such as meet.example.com", o.Domain)
	case o.Domain != "" && o.CertCache == "":
		return errors.New("--domain needs --cert-cache, a directory to keep certificates in (or every restart asks the CA again)")
	}
	if o.Domain != "" {
		if _, _, err := net.SplitHostPort(o.HTTPListen); err != nil {
			return fmt.Errorf("--http-listen %q: want host:port, e.g. :80", o.HTTPListen)
		}
	}
	if o.ACMEDirectory != "" {
		if u, err := url.Parse(o.ACMEDirectory); err != nil || u.Scheme != "https" || u.Host == "" {
			return fmt.Errorf("--acme-directory %q: want an https:// URL", o.ACMEDirectory)
		}
	}
	return nil
}
