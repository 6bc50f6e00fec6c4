// Package twohosts splits one Linux machine into two emulated hosts for
// meet-bench: a server host and a generator host, each a network namespace
// of its own with its own CPUs, joined by a veth pair.
//
// On loopback the kernel delivers a datagram to the receiving socket inside
// the sender's send call, so a server forwarding to local subscribers is
// billed for their receive work too. Here each side's receive processing
// is steered (RPS) to that side's CPUs and each side's processes are pinned
// to them, so the server's CPU is its own, as with subscribers on other
// machines. It needs root, the ip and taskset commands and at least two
// CPUs; the namespaces are removed by Close (and, if a run was killed, by
// the next New).
package twohosts

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
)

// ErrUnavailable is returned by New when this machine cannot be split:
// not Linux, not root, a missing command or a single CPU.
var ErrUnavailable = errors.New("twohosts: cannot split this machine")

const (
	nsPrefix = "meet-bench-"
	prefix   = 30 // the veth pair's subnet
)

// The pair's addresses. The namespaces are private, so they cannot clash
// with the machine's own networks.
var (
	serverIP    = netip.MustParseAddr("10.77.0.1")
	generatorIP = netip.MustParseAddr("10.77.0.2")
)

// Host is one side of the pair.
type Host struct {
	NS   string     // network namespace name
	Dev  string     // its end of the veth pair
	IP   netip.Addr // its address on the pair
	CPUs []int      // the CPUs its processes and its receive processing run on
}

// Command returns a command that runs name in the host's namespace pinned
// to its CPUs (ip netns exec … taskset -c …). Both exec the next program,
// so the command's pid is the program's.
func (h Host) Command(ctx context.Context, name string, args ...string) *exec.Cmd {
	full := append([]string{"netns", "exec", h.NS, "taskset", "-c", cpuList(h.CPUs), name}, args...)
	cmd := exec.CommandContext(ctx, "ip", full...)
	dieWithParent(cmd)
	return cmd
}

// Pair is the two hosts.
type Pair struct {
	Server, Generator Host
}

// New creates the pair: the namespaces, the veth pair with its addresses,
// loopback up in both, receive steering to each side's CPUs. The CPUs this
// process may run on are split in two halves, the first for the server.
func New(ctx context.Context) (*Pair, error) {
	if os.Geteuid() != 0 {
		return nil, fmt.Errorf("%w: network namespaces need root", ErrUnavailable)
	}
	for _, cmd := range []string{"ip", "taskset", "sh"} {
		if _, err := exec.LookPath(cmd); err != nil {
			return nil, fmt.Errorf("%w: %v", ErrUnavailable, err)
		}
	}
	cpus, err := allowedCPUs()
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrUnavailable, err)
	}
	if len(cpus) < 2 {
		return nil, fmt.Errorf("%w: %d CPU, two hosts need two", ErrUnavailable, len(cpus))
	}
	removeStale(ctx)
	pid := os.Getpid()
	half := len(cpus) / 2
	p := &Pair{
		Server:    Host{NS: fmt.Sprintf("%ssrv-%d", nsPrefix, pid), Dev: fmt.Sprintf("mbs%d", pid), IP: serverIP, CPUs: cpus[:half]},
		Generator: Host{NS: fmt.Sprintf("%sgen-%d", nsPrefix, pid), Dev: fmt.Sprintf("mbg%d", pid), IP: generatorIP, CPUs: cpus[half:]},
	}
	// The first step tells whether this root may make namespaces at all
	// (a container without CAP_SYS_ADMIN may not).
	if err := ip(ctx, "netns", "add", p.Server.NS); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrUnavailable, err)
	}
	steps := [][]string{
		{"netns", "add", p.Generator.NS},
		// Created in the server's namespace, the peer moved at once: no
		// interface ever appears in the machine's own namespace.
		{"-n", p.Server.NS, "link", "add", p.Server.Dev, "type", "veth", "peer", "name", p.Generator.Dev, "netns", p.Generator.NS},
	}
	for _, h := range []Host{p.Server, p.Generator} {
		steps = append(steps,
			[]string{"-n", h.NS, "addr", "add", fmt.Sprintf("%s/%d", h.IP, prefix), "dev", h.Dev},
			[]string{"-n", h.NS, "link", "set", h.Dev, "up"},
			[]string{"-n", h.NS, "link", "set", "lo", "up"},
			// ip netns exec mounts the namespace's own /sys, where the
			// device's receive queues are.
			[]string{"netns", "exec", h.NS, "sh", "-c",
				fmt.Sprintf("for q in /sys/class/net/%s/queues/rx-*; do echo %s > $q/rps_cpus; done", h.Dev, cpuMask(h.CPUs))})
	}
	for _, s := range steps {
		if err := ip(ctx, s...); err != nil {
			p.Close()
			return nil, err
		}
	}
	return p, nil
}

// Close removes both namespaces, and kills what still runs in them; the
// veth pair goes with them.
func (p *Pair) Close() error {
	var errs []error
	for _, ns := range []string{p.Server.NS, p.Generator.NS} {
		killAll(ns)
		if err := ip(context.Background(), "netns", "del", ns); err != nil && !strings.Contains(err.Error(), "No such file") {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// ip runs the ip command and returns its message on failure.
func ip(ctx context.Context, args ...string) error {
	out, err := exec.CommandContext(ctx, "ip", args...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("twohosts: ip %s: %v: %s", strings.Join(args, " "), err, strings.TrimSpace(string(out)))
	}
	return nil
}

// removeStale deletes the namespaces of meet-bench runs that are gone (a
// killed run cannot close its pair).
func removeStale(ctx context.Context) {
	out, err := exec.CommandContext(ctx, "ip", "netns", "list").Output()
	if err != nil {
		return
	}
	for _, line := range strings.Split(string(out), "\n") {
		f := strings.Fields(line)
		if len(f) == 0 || !strings.HasPrefix(f[0], nsPrefix) {
			continue
		}
		name := f[0]
		pid, err := strconv.Atoi(name[strings.LastIndexByte(name, '-')+1:])
		if err != nil || processAlive(pid) {
			continue
		}
		killAll(name)
		_ = ip(ctx, "netns", "del", name)
	}
}

// killAll kills the processes left in namespace ns (a server whose
// meet-bench was killed before it could stop it).
func killAll(ns string) {
	out, err := exec.Command("ip", "netns", "pids", ns).Output()
	if err != nil {
		return
	}
	for _, f := range strings.Fields(string(out)) {
		if pid, err := strconv.Atoi(f); err == nil && pid > 1 && pid != os.Getpid() {
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
	}
}

func processAlive(pid int) bool {
	err := syscall.Kill(pid, 0)
	return err == nil || errors.Is(err, syscall.EPERM)
}

// cpuList is taskset's list form: "0,2,3".
func cpuList(cpus []int) string {
	s := make([]string, len(cpus))
	for i, c := range cpus {
		s[i] = strconv.Itoa(c)
	}
	return strings.Join(s, ",")
}

// cpuMask is the kernel's bitmap form of rps_cpus: hexadecimal words of 32
// CPUs, most significant first, separated by commas ("2", "1,00000000").
func cpuMask(cpus []int) string {
	top := 0
	for _, c := range cpus {
		top = max(top, c)
	}
	words := make([]uint32, top/32+1)
	for _, c := range cpus {
		words[c/32] |= 1 << (c % 32)
	}
	var b strings.Builder
	for i := len(words) - 1; i >= 0; i-- {
		if i == len(words)-1 {
			fmt.Fprintf(&b, "%x", words[i])
		} else {
			fmt.Fprintf(&b, ",%08x", words[i])
		}
	}
	return b.String()
}
