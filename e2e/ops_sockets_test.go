package e2e

import (
	"context"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/monkeythorn/meet/bench/load"
)

// TestOpsSocketsDuringCall lists the real binary's sockets while a call
// runs (one publisher, two subscribers: real Pion clients) and fails on
// any internet socket other than the configured ones: the media port on
// --media-ip, and the HTTP and metrics listeners with their accepted
// connections. Pion's mDNS, left on, would show as 0.0.0.0:5353 here.
func TestOpsSocketsDuringCall(t *testing.T) {
	if _, err := os.Stat("/proc/self/net/udp"); err != nil {
		t.Skip("needs /proc")
	}
	bin := opsBinary(t)
	p := startMeet(t, nil, bin, opsArgs...)
	allowed := map[string]bool{
		"udp " + p.running["media_udp"]: true,
		"tcp " + p.running["http"]:      true,
		"tcp " + p.running["metrics"]:   true,
	}
	ctx, cancel := context.WithTimeout(context.Background(), 40*time.Second)
	defer cancel()
	done := make(chan error, 1)
	go func() {
		_, err := load.Run(ctx, load.Config{URL: p.URL(), Rooms: 1, Publishers: 1, Subscribers: 2, VideoBps: 300_000,
			Duration: 2 * time.Second, Warmup: 500 * time.Millisecond})
		done <- err
	}()
	seen := map[string]bool{}
	pid := p.cmd.Process.Pid
	for running := true; running; {
		select {
		case err := <-done:
			if err != nil {
				t.Fatalf("call: %v", err)
			}
			running = false
		case <-time.After(200 * time.Millisecond):
		}
		socks, err := processSockets(pid)
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range socks {
			seen[s] = true
		}
	}
	var bad, all []string
	for s := range seen {
		all = append(all, s)
		if !allowed[s] {
			bad = append(bad, s)
		}
	}
	sort.Strings(all)
	t.Logf("sockets of meet (pid %d) during the call, by local address: %v", pid, all)
	if len(bad) > 0 {
		sort.Strings(bad)
		t.Errorf("sockets outside --media-ip and the configured ports: %v (allowed: %v)", bad, allowed)
	}
	if !seen["udp "+p.running["media_udp"]] {
		t.Errorf("the media port %s was not among the sockets: the listing is broken", p.running["media_udp"])
	}
}

// processSockets returns "udp|tcp|raw host:port" of the local end of every
// internet socket pid holds open: the socket inodes of /proc/pid/fd
// looked up in /proc/pid/net/{udp,tcp,raw}{,6}.
func processSockets(pid int) ([]string, error) {
	dir := fmt.Sprintf("/proc/%d", pid)
	fds, err := os.ReadDir(filepath.Join(dir, "fd"))
	if err != nil {
		return nil, err
	}
	inodes := map[string]bool{}
	for _, fd := range fds {
		link, err := os.Readlink(filepath.Join(dir, "fd", fd.Name()))
		if err == nil && strings.HasPrefix(link, "socket:[") {
			inodes[strings.TrimSuffix(strings.TrimPrefix(link, "socket:["), "]")] = true
		}
	}
	var out []string
	for _, table := range []string{"udp", "udp6", "tcp", "tcp6", "raw", "raw6"} {
		b, err := os.ReadFile(filepath.Join(dir, "net", table))
		if err != nil {
			continue // no IPv6 in this kernel
		}
		for _, line := range strings.Split(string(b), "\n")[1:] {
			f := strings.Fields(line)
			if len(f) < 10 || !inodes[f[9]] {
				continue
			}
			addr, err := procAddr(f[1])
			if err != nil {
				return nil, fmt.Errorf("%s: %q: %v", table, f[1], err)
			}
			out = append(out, strings.TrimSuffix(table, "6")+" "+addr)
		}
	}
	return out, nil
}

// procAddr decodes /proc/net's "0100007F:1F90": the address in 32-bit
// words of host byte order (little-endian here), then the port in hex.
func procAddr(s string) (string, error) {
	h, p, ok := strings.Cut(s, ":")
	raw, err := hex.DecodeString(h)
	if !ok || err != nil || len(raw)%4 != 0 {
		return "", fmt.Errorf("bad address")
	}
	port, err := strconv.ParseUint(p, 16, 16)
	if err != nil {
		return "", err
	}
	ip := make(net.IP, len(raw))
	for i := 0; i < len(raw); i += 4 {
		binary.BigEndian.PutUint32(ip[i:], binary.LittleEndian.Uint32(raw[i:]))
	}
	if v4 := ip.To4(); v4 != nil {
		ip = v4
	}
	return net.JoinHostPort(ip.String(), strconv.Itoa(int(port))), nil
}
