package billing

import (
	"sync"
	"time"
)

// maxCachedCustomers bounds the subscription cache; beyond it expired
// entries are swept and, if still full, an arbitrary one is dropped (it is
// only a cache: the next lookup asks Stripe again).
const maxCachedCustomers = 10000

type subCacheEntry struct {
	state   subState
	expires time.Time
	gen     uint64
}

// subCache remembers subscription states for a short time so that every
// meeting start does not cost a Stripe request. Webhooks invalidate entries;
// the generation counter stops a lookup that started before an invalidation
// from storing its stale answer after it.
type subCache struct {
	mu      sync.Mutex
	ttl     time.Duration
	entries map[string]subCacheEntry
	gens    map[string]uint64 // bumped by invalidate; bounded like entries
}

func newSubCache(ttl time.Duration) *subCache {
	return &subCache{ttl: ttl, entries: make(map[string]subCacheEntry), gens: make(map[string]uint64)}
}

// get returns the cached state and whether it is fresh, plus the generation
// to pass to put.
func (c *subCache) get(customer string, now time.Time) (subState, bool, uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.entries[customer]
	if ok && now.Before(e.expires) {
		return e.state, true, e.gen
	}
	return subState{}, false, c.gens[customer]
}

func (c *subCache) put(customer string, st subState, gen uint64, now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.gens[customer] != gen {
		return // invalidated while we were asking Stripe
	}
	if _, ok := c.entries[customer]; !ok && len(c.entries) >= maxCachedCustomers {
		c.sweep(now)
	}
	c.entries[customer] = subCacheEntry{state: st, expires: now.Add(c.ttl), gen: gen}
}

func (c *subCache) invalidate(customer string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.entries, customer)
	if _, ok := c.gens[customer]; !ok && len(c.gens) >= maxCachedCustomers {
		clear(c.gens) // lookups in flight may store one stale answer; TTL bounds it
	}
	c.gens[customer]++
}

func (c *subCache) sweep(now time.Time) {
	for k, e := range c.entries {
		if !now.Before(e.expires) {
			delete(c.entries, k)
		}
	}
	for k := range c.entries {
		if len(c.entries) < maxCachedCustomers {
			break
		}
		delete(c.entries, k)
	}
}
