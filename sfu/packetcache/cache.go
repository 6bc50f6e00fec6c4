// Package packetcache keeps the recent packets of one RTP stream in fixed,
// reused slots, so NACKs can be answered without asking the publisher and
// without allocating per packet.
//
// A packet lives in the slot chosen by its extended sequence number, so a
// lookup is one index operation and a late, reordered packet still lands in
// its own slot. A slot is overwritten when a packet arrives Size sequence
// numbers later; Get reports a miss rather than the wrong packet.
package packetcache

import "sync"

// MaxPacketSize is the largest packet a slot holds; RTP over UDP on the
// Internet stays below the 1500-byte Ethernet MTU.
const MaxPacketSize = 1500

// Cache holds the last Size packets of one stream. It is safe for one writer
// and many readers.
type Cache struct {
	mu    sync.RWMutex
	buf   []byte   // Size slots of MaxPacketSize bytes, one allocation
	lens  []uint16 // length of the packet in each slot
	esns  []uint64 // extended sequence number held by each slot, plus one (0 = empty)
	mask  uint64
	slots int
}

// New returns a cache of size slots; size is rounded up to a power of two.
func New(size int) *Cache {
	n := 1
	for n < size {
		n <<= 1
	}
	return &Cache{
		buf:   make([]byte, n*MaxPacketSize),
		lens:  make([]uint16, n),
		esns:  make([]uint64, n),
		mask:  uint64(n - 1),
		slots: n,
	}
}

// Size returns the number of slots.
func (c *Cache) Size() int { return c.slots }

// Store copies pkt into the slot of esn. It reports false, storing nothing,
// when pkt is larger than MaxPacketSize.
func (c *Cache) Store(esn uint64, pkt []byte) bool {
	if len(pkt) > MaxPacketSize {
		return false
	}
	i := esn & c.mask
	c.mu.Lock()
	copy(c.buf[i*MaxPacketSize:], pkt)
	c.lens[i] = uint16(len(pkt))
	c.esns[i] = esn + 1
	c.mu.Unlock()
	return true
}

// Get copies the packet with extended sequence number esn into dst and
// returns its length; ok is false when the packet is not (or no longer) held
// or dst is too small.
func (c *Cache) Get(esn uint64, dst []byte) (n int, ok bool) {
	i := esn & c.mask
	c.mu.RLock()
	defer c.mu.RUnlock()
	if c.esns[i] != esn+1 {
		return 0, false
	}
	n = int(c.lens[i])
	if len(dst) < n {
		return 0, false
	}
	copy(dst, c.buf[i*MaxPacketSize:i*MaxPacketSize+uint64(n)])
	return n, true
}
