package netem

import (
	"net"
	"testing"
	"time"
)

// TestNetCarriesUDP sends datagrams from the client's namespace to the
// server's through the relay: open, delayed, and cut.
func TestNetCarriesUDP(t *testing.T) {
	if err := Available(); err != nil {
		t.Skipf("cannot make namespaces here: %v", err)
	}
	n, err := New()
	if err != nil {
		t.Fatal(err)
	}
	defer n.Close()
	var srv, cli *net.UDPConn
	if err := Do(n.Server, func() (err error) {
		srv, err = net.ListenUDP("udp4", &net.UDPAddr{IP: n.ServerIP})
		return err
	}); err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	if err := Do(n.Client, func() (err error) {
		cli, err = net.DialUDP("udp4", nil, srv.LocalAddr().(*net.UDPAddr))
		return err
	}); err != nil {
		t.Fatal(err)
	}
	defer cli.Close()
	roundTrip := func() (time.Duration, bool) {
		start := time.Now()
		if _, err := cli.Write([]byte("ping")); err != nil {
			t.Fatal(err)
		}
		buf := make([]byte, 64)
		_ = srv.SetReadDeadline(time.Now().Add(time.Second))
		k, from, err := srv.ReadFromUDP(buf)
		if err != nil {
			return 0, false
		}
		if !from.IP.Equal(n.ClientIP) || string(buf[:k]) != "ping" {
			t.Fatalf("got %q from %v", buf[:k], from)
		}
		return time.Since(start), true
	}
	if _, ok := roundTrip(); !ok {
		t.Fatal("open link: nothing arrived")
	}
	n.Up.Set(Shape{Delay: 150 * time.Millisecond})
	if d, ok := roundTrip(); !ok || d < 150*time.Millisecond {
		t.Fatalf("150 ms link: arrived=%v after %v", ok, d)
	}
	n.Up.Set(Shape{Cut: true})
	if _, ok := roundTrip(); ok {
		t.Fatal("cut link: a datagram arrived")
	}
	if c := n.Up.Counters(); c.Passed < 2 || c.CutDrops != 1 {
		t.Errorf("counters %+v", c)
	}
}
