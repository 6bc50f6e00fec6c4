package server

import (
	"context"
	"fmt"
	"github.com/monkeythorn/meet/internal/leaktest"
	"math/rand/v2"
	"net"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/monkeythorn/meet/turnserver"
)

// freeUDPRange finds n consecutive UDP ports on 127.0.0.1 that are free
// now, for a relay port range, below the kernel's ephemeral range: the
// tests of other packages running alongside open UDP sockets by the
// hundred on ephemeral ports, and one that took a port of the range made
// the server refuse an allocation for want of a port (508) instead of by
// quota. Another process binding a port there explicitly could still take
// one; the test then sees fewer relays, never a false pass.
func freeUDPRange(t *testing.T, n int) (lo, hi uint16) {
	t.Helper()
	below := ephemeralLow()
	for range 50 {
		start := 10000 + rand.IntN(below-10000-n)
		var held []net.PacketConn
		ok := true
		for p := start; p < start+n; p++ {
			c, err := net.ListenPacket("udp4", fmt.Sprintf("127.0.0.1:%d", p))
			if err != nil {
				ok = false
				break
			}
			held = append(held, c)
		}
		for _, c := range held {
			c.Close()
		}
		if ok {
			return uint16(start), uint16(start + n - 1)
		}
	}
	t.Fatal("no free UDP port range")
	return 0, 0
}

// ephemeralLow is the first port of the kernel's ephemeral range (32768 if
// it cannot be read).
func ephemeralLow() int {
	b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range")
	if err != nil {
		return 32768
	}
	var lo, hi int
	if _, err := fmt.Sscan(string(b), &lo, &hi); err != nil || lo < 20000 {
		return 32768
	}
	return lo
}

// TestAbuseTURNExhaustion: with free tokens, one client used to take every
// relay port of a small range, and the next participant behind a
// UDP-blocking network could not get a relay. Now TURN credentials come
// only with a welcome, and a client address may hold
// DefaultMaxAllocationsPerSource allocations whatever the number of
// credentials it collects.
func TestAbuseTURNExhaustion(t *testing.T) {
	leaktest.Check(t)
	const ports = 32
	lo, hi := freeUDPRange(t, ports)
	ts := newTestServer(t, func(c *Config) {
		c.EmbeddedTURN = &EmbeddedTURN{Host: "127.0.0.1", UDPAddr: "127.0.0.1:0", TCPAddr: "127.0.0.1:0",
			RelayIP: net.IPv4(127, 0, 0, 1), RelayPortMin: lo, RelayPortMax: hi}
	})
	atk := attackerClient("127.0.0.2")
	defer atk.CloseIdleConnections()
	// The attacker's credentials: from token responses (now none) and
	// from the welcomes of four sessions it joins.
	room := ts.newRoom()
	var creds [][2]string
	atkTS := &testServer{t: t, s: ts.s, base: ts.base, client: atk, issuer: ts.issuer}
	for range 4 {
		for _, s := range atkTS.token(room, true).ICEServers {
			if s.Username != "" {
				creds = append(creds, [2]string{s.Username, s.Credential})
			}
		}
		ice := turnCreds(t, joinedWelcome(t, atkTS, attackerDialer("127.0.0.2"), room))
		creds = append(creds, [2]string{ice.Username, ice.Credential})
	}
	got, refused := 0, 0
	for _, c := range creds {
		for range 16 {
			cl, _ := turnClientFrom(t, ts, "127.0.0.2", c[0], c[1])
			relay, err := cl.Allocate()
			if err != nil {
				refused++
				if !strings.Contains(err.Error(), "486") && !strings.Contains(err.Error(), "Quota") {
					t.Errorf("allocation refused with %v, want 486 Allocation Quota Reached", err)
				}
				continue
			}
			got++
			t.Cleanup(func() { relay.Close() })
		}
	}
	// The legitimate pair may use relays only.
	start := time.Now()
	room = ts.newRoom()
	var pair []*pionClient
	for i := range 2 {
		c := joinPionWith(t, ts, room, byte(i+1), pionOptions{relayOnly: true})
		pair = append(pair, c)
		t.Cleanup(c.leave)
	}
	waitMedia(t, pair, pair, 10, legitBound)
	took := time.Since(start)
	st := ts.s.turn.Stats()
	t.Logf("attacker: %d credentials, %d allocation attempts: %d relays, %d refused (source quota %d, user quota %d); relay range %d ports; legitimate relay-only call with media in %v",
		len(creds), 16*len(creds), got, refused, st.SourceQuota, st.QuotaRefusals, ports, took.Round(time.Millisecond))
	if len(creds) != 4 {
		t.Errorf("attacker collected %d TURN credentials from 4 tokens and 4 joins, want 4 (welcomes only)", len(creds))
	}
	if got > turnserver.DefaultMaxAllocationsPerSource {
		t.Errorf("one client address holds %d relays, quota %d", got, turnserver.DefaultMaxAllocationsPerSource)
	}
}

// TestAbuseTURNIdle: TCP connections to TURN that never speak, and
// allocations nobody uses, are closed by the idle time-outs instead of
// holding sockets for ever.
func TestAbuseTURNIdle(t *testing.T) {
	leaktest.Check(t)
	ts := newTestServer(t, func(c *Config) {
		c.EmbeddedTURN = &EmbeddedTURN{Host: "127.0.0.1", UDPAddr: "127.0.0.1:0", TCPAddr: "127.0.0.1:0",
			RelayIP: net.IPv4(127, 0, 0, 1), IdleTimeout: 500 * time.Millisecond, AllocationIdleTimeout: time.Second}
	})
	_, tcpA, _ := ts.s.TURNAddrs()
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP("127.0.0.2")}}
	const conns = 20
	var silent []net.Conn
	defer func() {
		for _, c := range silent {
			c.Close()
		}
	}()
	for range conns {
		c, err := d.Dial("tcp", tcpA.String())
		if err != nil {
			t.Fatal(err)
		}
		silent = append(silent, c)
	}
	// An allocation the attacker never uses.
	w := joinedWelcome(t, ts, attackerDialer("127.0.0.2"), ts.newRoom())
	ice := turnCreds(t, w)
	cl, _ := turnClientFrom(t, ts, "127.0.0.2", ice.Username, ice.Credential)
	relay, err := cl.Allocate()
	if err != nil {
		t.Fatal(err)
	}
	defer relay.Close()
	took := duringAttack(t, ts, func(context.Context) {})
	deadline := time.Now().Add(3 * time.Second)
	open := 0
	for _, c := range silent {
		_ = c.SetReadDeadline(deadline)
		if _, err := c.Read(make([]byte, 1)); isTimeoutErr(err) {
			open++
		}
	}
	for ts.s.turn.AllocationCount() > 0 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	t.Logf("%d silent TURN TCP connections: %d open after 3 s; idle allocations left: %d; legitimate call with media in %v",
		conns, open, ts.s.turn.AllocationCount(), took.Round(time.Millisecond))
	if open > 0 {
		t.Errorf("%d of %d silent TURN TCP connections still open (idle time-out 500ms)", open, conns)
	}
	if n := ts.s.turn.AllocationCount(); n > 0 {
		t.Errorf("%d unused allocations still live (allocation idle time-out 1s)", n)
	}
}

func isTimeoutErr(err error) bool {
	ne, ok := err.(net.Error)
	return ok && ne.Timeout()
}
