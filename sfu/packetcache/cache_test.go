package packetcache

import (
	"bytes"
	"testing"
)

func TestCacheStoreGet(t *testing.T) {
	c := New(100) // rounded to 128
	if c.Size() != 128 {
		t.Fatalf("Size() = %d, want 128", c.Size())
	}
	pkt := func(esn uint64) []byte { return []byte{byte(esn), byte(esn >> 8), 0xAA} }
	for esn := uint64(65530); esn < 65530+200; esn++ {
		c.Store(esn, pkt(esn))
	}
	dst := make([]byte, MaxPacketSize)
	tests := []struct {
		name string
		esn  uint64
		ok   bool
	}{
		{"latest", 65530 + 199, true},
		{"oldest kept", 65530 + 200 - 128, true},
		{"overwritten", 65530 + 200 - 129, false},
		{"never stored", 1, false},
		{"future", 65530 + 200, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n, ok := c.Get(tt.esn, dst)
			if ok != tt.ok {
				t.Fatalf("Get(%d) ok = %v, want %v", tt.esn, ok, tt.ok)
			}
			if ok && !bytes.Equal(dst[:n], pkt(tt.esn)) {
				t.Fatalf("Get(%d) = %x, want %x", tt.esn, dst[:n], pkt(tt.esn))
			}
		})
	}
}

func TestCacheLimits(t *testing.T) {
	c := New(4)
	if c.Store(1, make([]byte, MaxPacketSize+1)) {
		t.Fatal("stored an oversized packet")
	}
	c.Store(2, make([]byte, 100))
	if _, ok := c.Get(2, make([]byte, 99)); ok {
		t.Fatal("Get succeeded into a too-small buffer")
	}
	if _, ok := c.Get(0, make([]byte, 100)); ok {
		t.Fatal("Get(0) hit an empty slot")
	}
}

func TestCacheNoAllocs(t *testing.T) {
	c := New(512)
	pkt := make([]byte, 1200)
	dst := make([]byte, MaxPacketSize)
	var esn uint64
	allocs := testing.AllocsPerRun(1000, func() {
		esn++
		c.Store(esn, pkt)
		c.Get(esn, dst)
	})
	if allocs != 0 {
		t.Fatalf("Store+Get allocate %.1f times per packet, want 0", allocs)
	}
}

func BenchmarkCacheStore(b *testing.B) {
	c := New(512)
	pkt := make([]byte, 1200)
	b.SetBytes(int64(len(pkt)))
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		c.Store(uint64(i), pkt)
	}
}

func BenchmarkCacheGet(b *testing.B) {
	c := New(512)
	pkt := make([]byte, 1200)
	for i := range 512 {
		c.Store(uint64(i), pkt)
	}
	dst := make([]byte, MaxPacketSize)
	b.SetBytes(int64(len(pkt)))
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		c.Get(uint64(i&511), dst)
	}
}
