package load

import (
	"bytes"
	"net"
	"testing"

	"github.com/monkeythorn/meet/sfu/udpbatch"
)

// TestRecvConnSplitsGRO sends one frame as one GSO send, as the SFU does, and
// one plain datagram: the GRO socket must read the frame in one go and
// hand out its datagrams one by one, in order, then the plain one.
func TestRecvConnSplitsGRO(t *testing.T) {
	n, err := newRecvNet(true, nil)
	if err != nil {
		t.Fatal(err)
	}
	uc, err := n.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Skipf("no UDP_GRO here: %v", err)
	}
	defer uc.Close()
	rc := uc.(*recvConn)
	sc, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer sc.Close()
	s, err := udpbatch.NewSocket(sc)
	if err != nil {
		t.Fatal(err)
	}
	if !s.GSO() {
		t.Skip("no UDP GSO here")
	}
	dst := rc.LocalAddr().(*net.UDPAddr).AddrPort()
	sizes := []int{1100, 1100, 1100, 700}
	b := s.NewBatch(8)
	for i, n := range sizes {
		b.Commit(copy(b.Slot(dst), bytes.Repeat([]byte{byte(i + 1)}, n)))
	}
	b.Flush()
	if _, err := sc.WriteToUDPAddrPort(bytes.Repeat([]byte{9}, 300), dst); err != nil {
		t.Fatal(err)
	}
	from := sc.LocalAddr().(*net.UDPAddr).AddrPort()
	want := append(sizes, 300)
	buf := make([]byte, 1500)
	for i, size := range want {
		got, addr, err := rc.ReadFromAddrPort(buf)
		if err != nil {
			t.Fatal(err)
		}
		if got != size || addr != from {
			t.Fatalf("datagram %d: %d bytes from %v, want %d from %v", i, got, addr, size, from)
		}
		if i == 0 && len(rc.rest) != 1100+1100+700 {
			t.Fatalf("after the first datagram %d bytes are left of the read, want the frame's other 2900: the kernel did not coalesce", len(rc.rest))
		}
		tag := byte(i + 1)
		if i == len(sizes) {
			tag = 9
		}
		if !bytes.Equal(buf[:got], bytes.Repeat([]byte{tag}, size)) {
			t.Fatalf("datagram %d holds the wrong bytes", i)
		}
	}
}
