package main

import (
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/monkeythorn/meet/admission"
	"github.com/monkeythorn/meet/server"
	"github.com/monkeythorn/meet/signaling"
)

// limitOptions are the abuse limits (docs/security.md): per-address rates,
// session caps, the client address behind a proxy, and HTTP time-outs.
func limitOptions() []option {
	return []option{
		{"limit-rooms", "MEET_LIMIT_ROOMS", "1/s,20", "POST /api/rooms per client address: N/s or N/m, then the burst; off = no limit"},
		{"limit-tokens", "MEET_LIMIT_TOKENS", "5/s,50", "POST /api/token per client address (N/s or N/m, burst; off = no limit)"},
		{"limit-checkout", "MEET_LIMIT_CHECKOUT", "10/m,10", "billing checkout calls per client address (N/s or N/m, burst; off = no limit)"},
		{"limit-ws", "MEET_LIMIT_WS", "5/s,50", "WebSocket connections opened per client address (N/s or N/m, burst; off = no limit)"},
		{"limit-messages", "MEET_LIMIT_MESSAGES", "50/s,200", "signaling messages per connection (N/s or N/m, burst); a client over it is disconnected"},
		{"limit-chat", "MEET_LIMIT_CHAT", "5/s,20", "chat messages one participant may send (N/s or N/m, burst); a sender over it is disconnected, not its receivers"},
		{"max-tracks-per-participant", "MEET_MAX_TRACKS_PER_PARTICIPANT", "8", "tracks one participant may publish; an offer with more sending media sections is refused"},
		{"max-tracks-per-room", "MEET_MAX_TRACKS_PER_ROOM", "150", "tracks a meeting may hold, so every subscriber's offer and answer stay small enough to exchange"},
		{"media-timeout", "MEET_MEDIA_TIMEOUT", "30s", "a participant whose media has not connected this long after its first offer is removed"},
		{"max-sessions-per-ip", "MEET_MAX_SESSIONS_PER_IP", "50", "open signaling connections per client address (IPv6: per /64); 0 = no cap"},
		{"max-sessions", "MEET_MAX_SESSIONS", "2000", "open signaling connections on this node; 0 = no cap"},
		{"trusted-clients", "MEET_TRUSTED_CLIENTS", "", "comma-separated addresses/CIDRs exempt from the per-address limits, e.g. 127.0.0.1 for meet-bench on the same host"},
		{"proxy-header", "MEET_PROXY_HEADER", "", "header a reverse proxy puts the client address in (X-Real-IP or X-Forwarded-For); read only from --trusted-proxies. Empty = the connection's address"},
		{"trusted-proxies", "MEET_TRUSTED_PROXIES", "127.0.0.1,::1", "addresses/CIDRs of the reverse proxies whose --proxy-header is believed"},
		{"http-read-header-timeout", "MEET_HTTP_READ_HEADER_TIMEOUT", "5s", "time a client has to send a request's headers"},
		{"http-read-timeout", "MEET_HTTP_READ_TIMEOUT", "15s", "time a client has to send a whole request, body included"},
		{"http-write-timeout", "MEET_HTTP_WRITE_TIMEOUT", "30s", "time to write one response"},
		{"http-idle-timeout", "MEET_HTTP_IDLE_TIMEOUT", "60s", "how long an idle keep-alive connection stays open"},
		{"turn-credential-ttl", "MEET_TURN_CREDENTIAL_TTL", "10m", "lifetime of the TURN credentials in a welcome; allocations of a participant still in the call outlive it"},
		{"turn-allocations-per-user", "MEET_TURN_ALLOCATIONS_PER_USER", "8", "live TURN allocations per participant"},
		{"turn-allocations-per-ip", "MEET_TURN_ALLOCATIONS_PER_IP", "16", "live TURN allocations per client address (IPv6: per /64)"},
		{"turn-max-allocations", "MEET_TURN_MAX_ALLOCATIONS", "1000", "live TURN allocations on this node"},
		{"turn-idle-timeout", "MEET_TURN_IDLE_TIMEOUT", "30s", "a TURN TCP/TLS connection silent this long is closed"},
		{"turn-allocation-idle-timeout", "MEET_TURN_ALLOCATION_IDLE_TIMEOUT", "60s", "a TURN allocation that received nothing from the SFU this long is ended"},
	}
}

// limitFlags are the parsed limits.
type limitFlags struct {
	Limits         admission.Config
	HTTP           server.HTTPTimeouts
	TURN           turnLimits
	Messages, Chat admission.Rate
	// Track caps and the join deadline of the SFU.
	TracksPerParticipant, TracksPerRoom int
	MediaTimeout                        time.Duration
}

// signaling returns the signaling handler's share of the limits.
func (l limitFlags) signaling() signaling.Config {
	return signaling.Config{Rate: l.Messages.PerSecond, Burst: l.Messages.Burst, ChatRate: l.Chat.PerSecond, ChatBurst: l.Chat.Burst}
}

// turnLimits are the embedded TURN server's limits.
type turnLimits struct {
	CredentialTTL                      time.Duration
	PerUser, PerSource, Total          int
	IdleTimeout, AllocationIdleTimeout time.Duration
}

// apply sets the limits on e.
func (t turnLimits) apply(e *server.EmbeddedTURN) {
	e.TTL = t.CredentialTTL
	e.MaxAllocationsPerUser, e.MaxAllocationsPerSource, e.MaxAllocations = t.PerUser, t.PerSource, t.Total
	e.IdleTimeout, e.AllocationIdleTimeout = t.IdleTimeout, t.AllocationIdleTimeout
}

func parseLimitFlags(v map[string]*string) (limitFlags, error) {
	var l limitFlags
	var errs []error
	rates := []struct {
		name string
		dst  *admission.Rate
	}{{"limit-rooms", &l.Limits.Rooms}, {"limit-tokens", &l.Limits.Tokens}, {"limit-checkout", &l.Limits.Checkout}, {"limit-ws", &l.Limits.Upgrades},
		{"limit-messages", &l.Messages}, {"limit-chat", &l.Chat}}
	for _, r := range rates {
		var err error
		if *r.dst, err = admission.ParseRate(*v[r.name]); err != nil {
			errs = append(errs, fmt.Errorf("--%s %q: want N/s,BURST or N/m,BURST such as 5/s,50, or off", r.name, *v[r.name]))
		}
	}
	caps := []struct {
		name string
		dst  *int
	}{{"max-sessions-per-ip", &l.Limits.SessionsPerAddr}, {"max-sessions", &l.Limits.Sessions}}
	for _, c := range caps {
		n, err := strconv.Atoi(*v[c.name])
		if err != nil || n < 0 {
			errs = append(errs, fmt.Errorf("--%s %q: want a number, 0 = no cap", c.name, *v[c.name]))
			continue
		}
		if n == 0 {
			n = -1 // admission: -1 is no cap, 0 the default
		}
		*c.dst = n
	}
	quotas := []struct {
		name string
		dst  *int
	}{{"max-tracks-per-participant", &l.TracksPerParticipant}, {"max-tracks-per-room", &l.TracksPerRoom}, {"turn-allocations-per-user", &l.TURN.PerUser}, {"turn-allocations-per-ip", &l.TURN.PerSource}, {"turn-max-allocations", &l.TURN.Total}}
	for _, q := range quotas {
		n, err := strconv.Atoi(*v[q.name])
		if err != nil || n < 1 {
			errs = append(errs, fmt.Errorf("--%s %q: want a positive number", q.name, *v[q.name]))
		}
		*q.dst = n
	}
	var err error
	if l.Limits.Exempt, err = admission.ParsePrefixes(*v["trusted-clients"]); err != nil {
		errs = append(errs, fmt.Errorf("--trusted-clients %q: want addresses or CIDRs separated by commas", *v["trusted-clients"]))
	}
	if l.Limits.TrustedProxies, err = admission.ParsePrefixes(*v["trusted-proxies"]); err != nil {
		errs = append(errs, fmt.Errorf("--trusted-proxies %q: want addresses or CIDRs separated by commas", *v["trusted-proxies"]))
	}
	l.Limits.ProxyHeader = *v["proxy-header"]
	times := []struct {
		name string
		dst  *time.Duration
	}{{"http-read-header-timeout", &l.HTTP.ReadHeader}, {"http-read-timeout", &l.HTTP.Read}, {"http-write-timeout", &l.HTTP.Write}, {"http-idle-timeout", &l.HTTP.Idle},
		{"turn-credential-ttl", &l.TURN.CredentialTTL}, {"media-timeout", &l.MediaTimeout}, {"turn-idle-timeout", &l.TURN.IdleTimeout}, {"turn-allocation-idle-timeout", &l.TURN.AllocationIdleTimeout}}
	for _, t := range times {
		if *t.dst, err = time.ParseDuration(*v[t.name]); err != nil || *t.dst <= 0 {
			errs = append(errs, fmt.Errorf("--%s %q: want a positive duration such as 30s", t.name, *v[t.name]))
		}
	}
	return l, errors.Join(errs...)
}
