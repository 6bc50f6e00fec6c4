package twohosts

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"strings"
	"testing"
)

func TestCPUForms(t *testing.T) {
	tests := []struct {
		cpus       []int
		list, mask string
	}{
		{[]int{0}, "0", "1"},
		{[]int{1}, "1", "2"},
		{[]int{2, 3}, "2,3", "c"},
		{[]int{0, 31}, "0,31", "80000001"},
		{[]int{32}, "32", "1,00000000"},
		{[]int{1, 40, 70}, "1,40,70", "40,00000100,00000002"},
	}
	for _, tt := range tests {
		if got := cpuList(tt.cpus); got != tt.list {
			t.Errorf("cpuList(%v) = %q, want %q", tt.cpus, got, tt.list)
		}
		if got := cpuMask(tt.cpus); got != tt.mask {
			t.Errorf("cpuMask(%v) = %q, want %q", tt.cpus, got, tt.mask)
		}
	}
}

// TestPair builds the two hosts and checks what a run relies on: each side
// reaches the other over the pair, receive steering names each side's own
// CPUs, a command runs inside its host on its CPUs, and Close leaves no
// namespace behind.
func TestPair(t *testing.T) {
	ctx := context.Background()
	p, err := New(ctx)
	if errors.Is(err, ErrUnavailable) {
		t.Skipf("this machine cannot be split: %v", err)
	}
	if err != nil {
		t.Fatal(err)
	}
	closed := false
	defer func() {
		if !closed {
			p.Close()
		}
	}()
	if len(p.Server.CPUs) == 0 || len(p.Generator.CPUs) == 0 || p.Server.CPUs[len(p.Server.CPUs)-1] >= p.Generator.CPUs[0] {
		t.Fatalf("CPUs not split: server %v, generator %v", p.Server.CPUs, p.Generator.CPUs)
	}
	for _, h := range []Host{p.Server, p.Generator} {
		out, err := h.Command(ctx, "sh", "-c", "cat /sys/class/net/"+h.Dev+"/queues/rx-0/rps_cpus; taskset -pc $$; ip -4 -o addr show dev "+h.Dev).CombinedOutput()
		if err != nil {
			t.Fatalf("%s: %v: %s", h.NS, err, out)
		}
		lines := strings.Split(strings.TrimSpace(string(out)), "\n")
		if len(lines) != 3 {
			t.Fatalf("%s: %q", h.NS, out)
		}
		if mask := strings.TrimLeft(strings.ReplaceAll(lines[0], ",", ""), "0"); mask != cpuMask(h.CPUs) {
			t.Errorf("%s: rps_cpus %q, want %q", h.NS, lines[0], cpuMask(h.CPUs))
		}
		if !strings.HasSuffix(lines[1], ": "+cpuList(h.CPUs)) {
			t.Errorf("%s: affinity %q, want %s", h.NS, lines[1], cpuList(h.CPUs))
		}
		if !strings.Contains(lines[2], h.IP.String()+"/30") {
			t.Errorf("%s: address %q, want %s", h.NS, lines[2], h.IP)
		}
	}
	// The generator's way to the server is the pair; the machine's own
	// namespace has no way onto it (meet-bench's tests send traffic over it).
	if out, err := p.Generator.Command(ctx, "ip", "route", "get", p.Server.IP.String()).CombinedOutput(); err != nil || !strings.Contains(string(out), "dev "+p.Generator.Dev) {
		t.Errorf("generator's route to the server: %v %s", err, out)
	}
	if out, err := exec.Command("ip", "route", "get", p.Server.IP.String()).CombinedOutput(); err == nil && strings.Contains(string(out), p.Generator.Dev) {
		t.Errorf("the machine's own namespace routes to the pair: %s", out)
	}
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	closed = true
	out, _ := exec.Command("ip", "netns", "list").Output()
	for _, line := range strings.Split(string(out), "\n") {
		for _, ns := range []string{p.Server.NS, p.Generator.NS} {
			if f := strings.Fields(line); len(f) > 0 && f[0] == ns {
				t.Errorf("%s left after Close: %s", ns, out)
			}
		}
	}
	if _, err := os.Stat("/run/netns/" + p.Server.NS); err == nil {
		t.Errorf("/run/netns/%s left after Close", p.Server.NS)
	}
}
