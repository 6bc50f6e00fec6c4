package udpbatch

import (
	"bytes"
	"fmt"
	"net"
	"net/netip"
	"runtime"
	"slices"
	"sync"
	"testing"
)

func TestPlanGroups(t *testing.T) {
	a := netip.MustParseAddrPort("127.0.0.1:1000")
	b := netip.MustParseAddrPort("127.0.0.1:2000")
	full := make([]int, maxSegments+3)
	for i := range full {
		full[i] = 1000
	}
	tests := []struct {
		name string
		lens []int
		dsts []netip.AddrPort
		gso  bool
		want []group
	}{
		{"one frame, short last", []int{1200, 1200, 1200, 700}, []netip.AddrPort{a, a, a, a}, true,
			[]group{{0, 4, 1200}}},
		{"gso off: one message each", []int{1200, 1200}, []netip.AddrPort{a, a}, false,
			[]group{{0, 1, 1200}, {1, 1, 1200}}},
		{"destination change cuts", []int{1200, 1200, 1200, 1200}, []netip.AddrPort{a, a, b, b}, true,
			[]group{{0, 2, 1200}, {2, 2, 1200}}},
		{"larger datagram starts a new run", []int{800, 1200, 1200}, []netip.AddrPort{a, a, a}, true,
			[]group{{0, 1, 800}, {1, 2, 1200}}},
		{"shorter datagram ends the run", []int{1200, 900, 1200, 1200}, []netip.AddrPort{a, a, a, a}, true,
			[]group{{0, 2, 1200}, {2, 2, 1200}}},
		{"sizes one byte apart (libwebrtc splits frames so)", []int{1101, 1101, 1100, 1100, 1100}, []netip.AddrPort{a, a, a, a, a}, true,
			[]group{{0, 3, 1101}, {3, 2, 1100}}},
		{"interleaved destinations do not group", []int{1200, 1200, 1200}, []netip.AddrPort{a, b, a}, true,
			[]group{{0, 1, 1200}, {1, 1, 1200}, {2, 1, 1200}}},
		{"at most 64 segments", full, slices.Repeat([]netip.AddrPort{a}, len(full)), true,
			[]group{{0, 64, 1000}, {64, 3, 1000}}},
		{"at most 65000 bytes", []int{1400, 1400, 1400}, []netip.AddrPort{a, a, a}, true,
			[]group{{0, 3, 1400}}},
		{"empty", nil, nil, true, nil},
	}
	big := slices.Repeat([]int{1400}, 50) // 70,000 bytes
	tests = append(tests, struct {
		name string
		lens []int
		dsts []netip.AddrPort
		gso  bool
		want []group
	}{"byte limit cuts", big, slices.Repeat([]netip.AddrPort{a}, 50), true, []group{{0, 46, 1400}, {46, 4, 1400}}})
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := planGroups(nil, tt.lens, tt.dsts, tt.gso)
			if !slices.Equal(got, tt.want) {
				t.Fatalf("planGroups = %v, want %v", got, tt.want)
			}
		})
	}
}

// frame returns n datagrams of a frame to one subscriber: full ones and a
// shorter last one, each starting with its tag and index.
func frame(tag byte, n, size, last int) [][]byte {
	var out [][]byte
	for i := range n {
		l := size
		if i == n-1 {
			l = last
		}
		p := bytes.Repeat([]byte{tag}, l)
		p[1] = byte(i)
		out = append(out, p)
	}
	return out
}

func newSocket(t testing.TB) *Socket {
	t.Helper()
	s, err := NewSocket(listen(t))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func addrPort(c *net.UDPConn) netip.AddrPort { return c.LocalAddr().(*net.UDPAddr).AddrPort() }

// TestBatchDelivers sends the frames of two subscribers, one subscriber
// after the other as the fan-out writes them, and checks that each
// receives its datagrams whole, in order and with their own sizes,
// with GSO and without.
func TestBatchDelivers(t *testing.T) {
	tests := []struct {
		name      string
		gso       bool
		slots     int
		wantCalls uint64
	}{
		{"gso", true, 64, 1},
		{"sendmmsg only", false, 64, 1},
		{"batch fills and flushes early", true, 5, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newSocket(t)
			if tt.gso && !s.GSO() {
				t.Skip("this kernel has no UDP GSO")
			}
			if !tt.gso {
				s.disableGSO()
			}
			rx1, rx2 := listen(t), listen(t)
			want1, want2 := frame('a', 6, 1200, 431), frame('b', 4, 1000, 1000)
			b := s.NewBatch(tt.slots)
			for _, sub := range []struct {
				dst  netip.AddrPort
				pkts [][]byte
			}{{addrPort(rx1), want1}, {addrPort(rx2), want2}} {
				for _, p := range sub.pkts {
					b.Commit(copy(b.Slot(sub.dst), p))
				}
			}
			b.Flush()
			for i, got := range receive(t, rx1, len(want1)) {
				if !bytes.Equal(got, want1[i]) {
					t.Fatalf("subscriber 1 datagram %d: %d bytes starting %q, want %d bytes", i, len(got), got[:2], len(want1[i]))
				}
			}
			for i, got := range receive(t, rx2, len(want2)) {
				if !bytes.Equal(got, want2[i]) {
					t.Fatalf("subscriber 2 datagram %d: %d bytes, want %d", i, len(got), len(want2[i]))
				}
			}
			st := s.Stats()
			if st.Datagrams != 10 || st.Syscalls != tt.wantCalls || st.Errors != 0 {
				t.Fatalf("stats %+v, want 10 datagrams in %d calls", st, tt.wantCalls)
			}
			if tt.gso && tt.slots == 64 && (st.GSOSends != 2 || st.Messages != 2) {
				t.Fatalf("stats %+v, want one GSO send per subscriber", st)
			}
			if !tt.gso && st.GSOSends != 0 {
				t.Fatalf("stats %+v: GSO used while off", st)
			}
		})
	}
}

func TestBatchRefusedDatagramDoesNotStopOthers(t *testing.T) {
	s := newSocket(t)
	rx := listen(t)
	b := s.NewBatch(8)
	b.Commit(copy(b.Slot(addrPort(rx)), "ok1"))
	b.Commit(copy(b.Slot(netip.MustParseAddrPort("127.0.0.1:0")), "bad")) // port 0: EINVAL
	b.Commit(copy(b.Slot(addrPort(rx)), "ok2"))
	b.Slot(addrPort(rx)) // a slot never committed is not sent
	b.Flush()
	got := receive(t, rx, 2)
	if string(got[0]) != "ok1" || string(got[1]) != "ok2" {
		t.Fatalf("got %q", got)
	}
	if st := s.Stats(); st.Errors != 1 || st.Datagrams != 2 {
		t.Fatalf("stats %+v, want 1 error and 2 datagrams", st)
	}
}

// drain reads a new loopback socket until the test ends, so its buffer
// never fills, and returns its address.
func drain(t testing.TB) netip.AddrPort {
	c := listen(t)
	_ = c.SetReadBuffer(4 << 20)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		buf := make([]byte, 2000)
		for {
			if _, _, err := c.ReadFromUDPAddrPort(buf); err != nil {
				return
			}
		}
	}()
	t.Cleanup(func() { c.Close(); wg.Wait() })
	return addrPort(c)
}

func TestBatchSendNoAllocs(t *testing.T) {
	s := newSocket(t)
	dst := drain(t)
	b := s.NewBatch(32)
	allocs := testing.AllocsPerRun(200, func() {
		for i := range 8 {
			_ = b.Slot(dst)
			b.Commit(1100 - i/7*400) // a frame: 7 full datagrams, a short last one
		}
		b.Flush()
	})
	if allocs != 0 {
		t.Fatalf("a batch of 8 allocates %.1f times", allocs)
	}
}

// BenchmarkBatchSend sends frames of 8 datagrams (7 × 1200 bytes and one
// of 600) to each of 30 subscribers on loopback, as the fan-out of one
// video frame does, one syscall per datagram (sendto), all in sendmmsg,
// or sendmmsg with one GSO send per subscriber. The receivers' kernel
// work is billed to the sender on loopback, as it is to the SFU.
func BenchmarkBatchSend(b *testing.B) {
	const subs, perFrame = 30, 8
	for _, mode := range []string{"sendto", "sendmmsg", "gso"} {
		b.Run("mode="+mode, func(b *testing.B) {
			s := newSocket(b)
			if mode == "gso" && !s.GSO() {
				b.Skip("no UDP GSO")
			}
			if mode != "gso" {
				s.disableGSO()
			}
			dsts := make([]netip.AddrPort, subs)
			for i := range dsts {
				dsts[i] = drain(b)
			}
			batch := s.NewBatch(perFrame * subs)
			pkt := make([]byte, 1200)
			b.SetBytes(int64(subs * (perFrame - 1) * 1200))
			b.ReportAllocs()
			runtime.LockOSThread()
			defer runtime.UnlockOSThread()
			cpu0 := threadCPU()
			for b.Loop() {
				for _, d := range dsts {
					for i := range perFrame {
						n := len(pkt)
						if i == perFrame-1 {
							n = 600
						}
						if mode == "sendto" {
							_, _ = s.conn.WriteToUDPAddrPort(pkt[:n], d)
							continue
						}
						batch.Commit(copy(batch.Slot(d), pkt[:n]))
					}
				}
				batch.Flush()
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*subs*perFrame), "ns/datagram")
			if cpu := threadCPU(); cpu > 0 {
				b.ReportMetric(float64(cpu-cpu0)/float64(b.N*subs*perFrame), "cpu-ns/datagram")
			}
		})
	}
}

func ExampleBatch() {
	c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		return
	}
	defer c.Close()
	s, err := NewSocket(c)
	if err != nil {
		return
	}
	b := s.NewBatch(64)
	dst := netip.MustParseAddrPort("127.0.0.1:9") // discard
	for i := range 3 {
		slot := b.Slot(dst)
		b.Commit(copy(slot, fmt.Sprintf("packet %d", i)))
	}
	b.Flush()
	fmt.Println(s.Stats().Datagrams)
	// Output: 3
}
