package udpbatch

import (
	"bytes"
	"fmt"
	"net"
	"testing"
	"time"
)

func listen(t testing.TB) *net.UDPConn {
	t.Helper()
	c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func receive(t *testing.T, c *net.UDPConn, n int) [][]byte {
	t.Helper()
	var got [][]byte
	buf := make([]byte, 2000)
	c.SetReadDeadline(time.Now().Add(2 * time.Second))
	for len(got) < n {
		m, _, err := c.ReadFromUDP(buf)
		if err != nil {
			t.Fatalf("received %d of %d packets: %v", len(got), n, err)
		}
		got = append(got, append([]byte(nil), buf[:m]...))
	}
	return got
}

func TestBatchSendsInOrder(t *testing.T) {
	tests := []struct {
		name         string
		size, writes int
		wantSyscalls uint64
	}{
		{"one batch", 8, 5, 1},
		{"full batch flushes early", 4, 10, 3},
		{"empty batch", 4, 0, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rx := listen(t)
			c := New(listen(t), tt.size)
			c.Begin()
			for i := range tt.writes {
				if _, err := c.WriteTo([]byte(fmt.Sprintf("pkt-%03d", i)), rx.LocalAddr()); err != nil {
					t.Fatal(err)
				}
			}
			c.End()
			got := receive(t, rx, tt.writes)
			for i, p := range got {
				if want := fmt.Sprintf("pkt-%03d", i); string(p) != want {
					t.Fatalf("packet %d = %q, want %q", i, p, want)
				}
			}
			s := c.Stats()
			if s.Syscalls != tt.wantSyscalls || s.Packets != uint64(tt.writes) {
				t.Fatalf("stats %+v, want %d syscalls for %d packets", s, tt.wantSyscalls, tt.writes)
			}
		})
	}
}

func TestWriteOutsideBatchIsDirect(t *testing.T) {
	rx := listen(t)
	c := New(listen(t), 4)
	c.WriteTo([]byte("now"), rx.LocalAddr())
	if got := receive(t, rx, 1); !bytes.Equal(got[0], []byte("now")) {
		t.Fatalf("got %q", got[0])
	}
	if s := c.Stats(); s.Direct != 1 || s.Syscalls != 0 {
		t.Fatalf("stats %+v", s)
	}
}

func TestBatchCopiesCallerBuffer(t *testing.T) {
	rx := listen(t)
	c := New(listen(t), 4)
	buf := []byte("first")
	c.Begin()
	c.WriteTo(buf, rx.LocalAddr())
	copy(buf, "XXXXX") // the caller reuses its buffer at once, as Pion does
	c.End()
	if got := receive(t, rx, 1); string(got[0]) != "first" {
		t.Fatalf("got %q: batch kept a reference to the caller's buffer", got[0])
	}
}

func TestNestedBatches(t *testing.T) {
	rx := listen(t)
	c := New(listen(t), 16)
	c.Begin()
	c.Begin()
	c.WriteTo([]byte("a"), rx.LocalAddr())
	c.End() // flushes what is pending so nothing waits for the outer batch
	receive(t, rx, 1)
	c.WriteTo([]byte("b"), rx.LocalAddr())
	c.End()
	receive(t, rx, 1)
}

func TestRefusedPacketDoesNotStopBatch(t *testing.T) {
	rx := listen(t)
	c := New(listen(t), 8)
	c.Begin()
	c.WriteTo([]byte("ok1"), rx.LocalAddr())
	// Port 0 is refused by the kernel (EINVAL) for this one message only.
	c.WriteTo([]byte("bad"), &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 0})
	c.WriteTo([]byte("ok2"), rx.LocalAddr())
	c.End()
	got := receive(t, rx, 2)
	if string(got[0]) != "ok1" || string(got[1]) != "ok2" {
		t.Fatalf("got %q", got)
	}
	if s := c.Stats(); s.Errors != 1 {
		t.Fatalf("stats %+v, want 1 error", s)
	}
}

func TestBatchNoAllocs(t *testing.T) {
	rx := listen(t)
	go func() { // drain so the socket buffer never fills
		buf := make([]byte, 2000)
		for {
			if _, _, err := rx.ReadFromUDPAddrPort(buf); err != nil {
				return
			}
		}
	}()
	c := New(listen(t), 16)
	pkt := make([]byte, 1100)
	addr := rx.LocalAddr()
	allocs := testing.AllocsPerRun(200, func() {
		c.Begin()
		for range 8 {
			c.WriteTo(pkt, addr)
		}
		c.End()
	})
	if allocs != 0 {
		t.Fatalf("a batch of 8 allocates %.1f times", allocs)
	}
}

// BenchmarkSend compares one sendto per packet with batches of 16 through
// sendmmsg, to a receiver on loopback.
func BenchmarkSend(b *testing.B) {
	for _, batch := range []int{1, 16} {
		b.Run(fmt.Sprintf("batch=%d", batch), func(b *testing.B) {
			rx := listen(b)
			rx.SetReadBuffer(4 << 20)
			go func() {
				buf := make([]byte, 2000)
				for {
					if _, _, err := rx.ReadFromUDPAddrPort(buf); err != nil {
						return
					}
				}
			}()
			c := New(listen(b), batch)
			pkt := make([]byte, 1100)
			addr := rx.LocalAddr()
			b.SetBytes(int64(len(pkt)))
			b.ReportAllocs()
			for b.Loop() {
				if batch == 1 {
					c.WriteTo(pkt, addr)
					continue
				}
				c.Begin()
				for range batch {
					c.WriteTo(pkt, addr)
				}
				c.End()
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*max(batch, 1)), "ns/packet")
		})
	}
}
