package admission

import (
	"math"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/time/rate"
)

// Gate enforces one node's limits. It is safe for concurrent use.
type Gate struct {
	cfg      Config
	limiters [numLimits]*addrLimiter // nil for limits that are not rates
	refused  [numLimits]atomic.Uint64

	mu       sync.Mutex
	sessions map[netip.Prefix]int
	total    int
}

// New validates cfg (filling in defaults) and returns a Gate.
func New(cfg Config) (*Gate, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	g := &Gate{cfg: cfg, sessions: make(map[netip.Prefix]int)}
	for _, l := range []Limit{Rooms, Tokens, Checkout, Upgrades} {
		if r := *cfg.rate(l); !r.unlimited() {
			g.limiters[l] = &addrLimiter{rate: r, max: cfg.MaxAddrs, addrs: make(map[netip.Prefix]*rate.Limiter)}
		}
	}
	return g, nil
}

// Config returns the configuration in use, defaults filled in.
func (g *Gate) Config() Config { return g.cfg }

// Allow takes one action of rate limit l for addr, or returns a *Refusal
// saying how long to wait.
func (g *Gate) Allow(l Limit, addr netip.Addr) error {
	al := g.limiters[l]
	if al == nil || g.exempt(addr) {
		return nil
	}
	wait, ok := al.take(key(addr), g.cfg.Now())
	if ok {
		return nil
	}
	g.refused[l].Add(1)
	return &Refusal{Limit: l, RetryAfter: wait}
}

// Acquire takes a signaling session slot for addr: one of the node's and,
// unless addr is exempt, one of the address's. The caller must call the
// returned release exactly once when the session ends.
func (g *Gate) Acquire(addr netip.Addr) (release func(), err error) {
	k, exempt := key(addr), g.exempt(addr)
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.cfg.Sessions > 0 && g.total >= g.cfg.Sessions {
		g.refused[Sessions].Add(1)
		return nil, &Refusal{Limit: Sessions, RetryAfter: time.Minute}
	}
	if !exempt && g.cfg.SessionsPerAddr > 0 && g.sessions[k] >= g.cfg.SessionsPerAddr {
		g.refused[SessionsPerAddr].Add(1)
		return nil, &Refusal{Limit: SessionsPerAddr, RetryAfter: time.Minute}
	}
	g.total++
	if !exempt {
		g.sessions[k]++
	}
	var once sync.Once
	return func() {
		once.Do(func() {
			g.mu.Lock()
			defer g.mu.Unlock()
			g.total--
			if exempt {
				return
			}
			if g.sessions[k]--; g.sessions[k] <= 0 {
				delete(g.sessions, k)
			}
		})
	}, nil
}

// Count records a refusal of l decided elsewhere (the content type check),
// so every refusal shows in Refusals.
func (g *Gate) Count(l Limit) {
	if l > LimitUnknown && l < numLimits {
		g.refused[l].Add(1)
	}
}

// Refusals returns how many actions each limit refused, by limit name.
func (g *Gate) Refusals() map[string]uint64 {
	out := make(map[string]uint64, numLimits-1)
	for l := Rooms; l < numLimits; l++ {
		out[l.String()] = g.refused[l].Load()
	}
	return out
}

func (g *Gate) exempt(addr netip.Addr) bool { return inAny(g.cfg.Exempt, addr.Unmap()) }

// key is what one client is counted by: its IPv4 address or its IPv6 /64.
func key(addr netip.Addr) netip.Prefix {
	addr = addr.Unmap()
	bits := 32
	if addr.Is6() {
		bits = 64
	}
	p, _ := addr.Prefix(bits) // an invalid address becomes the zero Prefix: one shared bucket
	return p
}

// addrLimiter is one rate limit's buckets, one per address.
type addrLimiter struct {
	rate Rate
	max  int

	mu    sync.Mutex
	addrs map[netip.Prefix]*rate.Limiter
}

// take spends one token of k's bucket, or says how long until one is there.
func (a *addrLimiter) take(k netip.Prefix, now time.Time) (time.Duration, bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	lim, ok := a.addrs[k]
	if !ok {
		if len(a.addrs) >= a.max && !a.forgetIdle(now) {
			// Every remembered address is still throttled: forgetting
			// one would hand its owner a fresh burst.
			return time.Second, false
		}
		lim = a.rate.limiter()
		a.addrs[k] = lim
	}
	r := lim.ReserveN(now, 1)
	if !r.OK() {
		return time.Minute, false
	}
	if d := r.DelayFrom(now); d > 0 {
		r.CancelAt(now)
		return d, false
	}
	return 0, true
}

// forgetIdle drops the addresses whose bucket is full again: they are in
// the state a new address starts in, so forgetting them changes nothing.
func (a *addrLimiter) forgetIdle(now time.Time) bool {
	full := float64(a.rate.Burst) - 1e-9
	for k, lim := range a.addrs {
		if lim.TokensAt(now) >= full || math.IsInf(lim.TokensAt(now), 1) {
			delete(a.addrs, k)
		}
	}
	return len(a.addrs) < a.max
}
