package admission

import (
	"net"
	"net/http"
	"net/netip"
	"strings"
)

// ClientAddr is the address r's client is counted by: the connection's
// peer, or, when that peer is a trusted proxy, the address the proxy put in
// Config.ProxyHeader. A missing or malformed header leaves the proxy's own
// address, which throttles everyone behind a misconfigured proxy together
// rather than trusting what a client wrote.
func (g *Gate) ClientAddr(r *http.Request) netip.Addr {
	peer := remoteAddr(r.RemoteAddr)
	if g.cfg.ProxyHeader == "" || !inAny(g.cfg.TrustedProxies, peer) {
		return peer
	}
	values := r.Header.Values(g.cfg.ProxyHeader)
	if len(values) == 0 {
		return peer
	}
	if !strings.EqualFold(g.cfg.ProxyHeader, "X-Forwarded-For") {
		if a, err := netip.ParseAddr(strings.TrimSpace(values[len(values)-1])); err == nil {
			return a.Unmap()
		}
		return peer
	}
	// X-Forwarded-For: "client, proxy1, proxy2". Anyone may write the
	// leftmost entries; the rightmost one not added by a trusted proxy is
	// the first address a trusted proxy saw.
	hops := strings.Split(strings.Join(values, ","), ",")
	for i := len(hops) - 1; i >= 0; i-- {
		a, err := netip.ParseAddr(strings.TrimSpace(hops[i]))
		if err != nil {
			return peer
		}
		if a = a.Unmap(); !inAny(g.cfg.TrustedProxies, a) {
			return a
		}
	}
	return peer
}

func remoteAddr(s string) netip.Addr {
	if ap, err := netip.ParseAddrPort(s); err == nil {
		return ap.Addr().Unmap()
	}
	host, _, err := net.SplitHostPort(s)
	if err != nil {
		host = s
	}
	a, _ := netip.ParseAddr(host)
	return a.Unmap()
}

func inAny(ps []netip.Prefix, a netip.Addr) bool {
	for _, p := range ps {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// ParsePrefixes reads a comma-separated list of CIDR prefixes or single
// addresses ("10.0.0.0/8, 127.0.0.1, ::1").
func ParsePrefixes(s string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, f := range strings.Split(s, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		if !strings.Contains(f, "/") {
			a, err := netip.ParseAddr(f)
			if err != nil {
				return nil, err
			}
			out = append(out, netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen()))
			continue
		}
		p, err := netip.ParsePrefix(f)
		if err != nil {
			return nil, err
		}
		out = append(out, p.Masked())
	}
	return out, nil
}
