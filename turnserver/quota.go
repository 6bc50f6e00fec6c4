package turnserver

import (
	"net"
	"net/netip"
	"sync"
)

// Default allocation quotas (Config).
const (
	// DefaultMaxAllocationsPerUser bounds allocations per TURN username. A
	// browser makes one per TURN URL (UDP, TCP, TLS) per peer connection:
	// 6 for our two connections; 8 leaves room for an ICE restart's overlap
	// and stops one credential from taking a relay range.
	DefaultMaxAllocationsPerUser = 8
	// DefaultMaxAllocationsPerSource bounds allocations per client address
	// (IPv4 address, IPv6 /64): two participants' worth, a household or a
	// small office behind one NAT. It is what stops one client from taking
	// every relay port with many credentials.
	DefaultMaxAllocationsPerSource = 16
	// DefaultMaxAllocations bounds the server's allocations in total: each
	// holds a socket and a goroutine.
	DefaultMaxAllocations = 1000
)

// Quota reasons, the labels of the refusal counters.
const (
	quotaUser   = "allocation_quota"
	quotaSource = "allocation_quota_source"
	quotaTotal  = "allocation_quota_total"
)

// quotas count live allocations per username, per source and in total. The
// check and the creation are separate steps in pion, so concurrent Allocate
// requests may overshoot by a few; that is good enough for an abuse limit.
type quotas struct {
	mu                   sync.Mutex
	perUser, perSrc, max int
	users                map[string]int
	srcs                 map[netip.Prefix]int
	total                int
}

func newQuotas(perUser, perSrc, max int) *quotas {
	return &quotas{perUser: perUser, perSrc: perSrc, max: max, users: make(map[string]int), srcs: make(map[netip.Prefix]int)}
}

// allow reports "" when one more allocation of user from src fits, else
// which quota it would exceed.
func (q *quotas) allow(user string, src net.Addr) string {
	q.mu.Lock()
	defer q.mu.Unlock()
	switch {
	case q.total >= q.max:
		return quotaTotal
	case q.srcs[source(src)] >= q.perSrc:
		return quotaSource
	case q.users[user] >= q.perUser:
		return quotaUser
	}
	return ""
}

func (q *quotas) add(user string, src net.Addr, delta int) {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.total += delta
	bump(q.users, user, delta)
	bump(q.srcs, source(src), delta)
}

func bump[K comparable](m map[K]int, k K, delta int) {
	if n := m[k] + delta; n > 0 {
		m[k] = n
	} else {
		delete(m, k)
	}
}

// source is what a client is counted by: its IPv4 address or IPv6 /64.
func source(a net.Addr) netip.Prefix {
	var ip netip.Addr
	switch a := a.(type) {
	case *net.UDPAddr:
		ip, _ = netip.AddrFromSlice(a.IP)
	case *net.TCPAddr:
		ip, _ = netip.AddrFromSlice(a.IP)
	}
	ip = ip.Unmap()
	bits := 32
	if ip.Is6() {
		bits = 64
	}
	p, _ := ip.Prefix(bits)
	return p
}
