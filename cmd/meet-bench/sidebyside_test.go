package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"github.com/monkeythorn/meet/sfu"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/monkeythorn/meet/bench"
	"github.com/monkeythorn/meet/internal/leaktest"
)

// TestSideBySide is issue 19's scene: two `meet --dev` and one
// `meet-bench load` on one host at once, with an environment that names
// ports something else holds. Each dev server differs in --listen only; the
// benchmark's server ignores the MEET_ variables; a third dev server on a
// taken --listen fails with one line naming the flag.
func TestSideBySide(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs meet; runs without -short")
	}
	leaktest.Check(t)
	bin := buildMeetBinary(t)

	// Ports held by "someone else", named by the environment as a user's
	// shell might (a production config exported, `make run` elsewhere).
	tcpHeld := holdTCP(t)
	tcpHeld2 := holdTCP(t)
	udpHeld := holdUDP(t)
	t.Setenv("MEET_METRICS_LISTEN", tcpHeld)
	t.Setenv("MEET_ICE_TCP_PORT", portOf(tcpHeld2))
	t.Setenv("MEET_TURN_UDP_PORT", portOf(udpHeld))
	t.Setenv("MEET_TURN_TCP_PORT", portOf(tcpHeld))
	t.Setenv("MEET_UDP_PORT", portOf(udpHeld))

	a := startDev(t, bin, freeAddr(t))
	b := startDev(t, bin, freeAddr(t))
	for _, d := range []*devServer{a, b} {
		line := d.waitRunning(t)
		if !strings.Contains(line, "open=http://localhost:"+portOf(d.listen)) || !strings.Contains(line, "invite_links=") {
			t.Errorf("start line lacks the URL to open or the invite-link caveat: %s", line)
		}
		for _, bad := range []string{"turn_udp", "ice_tcp", "0.0.0.0"} {
			if strings.Contains(line, bad) {
				t.Errorf("dev start line has %s: %s", bad, line)
			}
		}
	}

	// The same --listen again: one line naming the flag, exit 1.
	c := startDev(t, bin, a.listen)
	if code := c.wait(t, 10*time.Second); code != 1 {
		t.Errorf("third server on a taken --listen: exit %d, want 1", code)
	}
	var problems []string
	for _, l := range strings.Split(strings.TrimSpace(c.output()), "\n") {
		if !strings.Contains(l, "DEVELOPMENT MODE") {
			problems = append(problems, l)
		}
	}
	if len(problems) != 1 || !strings.Contains(problems[0], "--listen "+a.listen) || !strings.Contains(problems[0], "is taken") {
		t.Errorf("taken --listen: want one line naming --listen, got %q", problems)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var stdout, stderr bytes.Buffer
	code := run(ctx, []string{"load", "--meet-bin", bin, "--publishers", "1", "--subscribers", "1", "--video", "300k",
		"--duration", "2s", "--warmup", "1s", "--no-ceiling", "--json"}, &stdout, &stderr)
	if code != 0 {
		t.Fatalf("meet-bench load beside two dev servers: exit %d\n%s", code, stderr.String())
	}
	var res bench.Result
	if err := json.Unmarshal(stdout.Bytes(), &res); err != nil || res.ForwardedPacketsPerS <= 0 {
		t.Errorf("result %+v (%v)", res, err)
	}
	hc := &http.Client{Timeout: 3 * time.Second}
	for _, d := range []*devServer{a, b} {
		resp, err := hc.Get("http://" + d.listen + "/healthz")
		if err != nil {
			t.Errorf("dev server on %s after the load: %v", d.listen, err)
			continue
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Errorf("dev server on %s: /healthz %d after the load", d.listen, resp.StatusCode)
		}
	}
}

// TestServerArgs: the benchmark's server turns the fixed-port services off
// and takes no MEET_ variable, and --server-args comes last so it wins.
func TestServerArgs(t *testing.T) {
	args := strings.Join(serverArgs(1, 2, 3, []string{"--ice-tcp-port=7881"}), " ")
	for _, want := range []string{"--turn-udp-port=0", "--turn-tcp-port=0", "--turn-tls-port=0", "--metrics-listen 127.0.0.1:3", "--media-ip 127.0.0.1", "--trusted-clients 127.0.0.1,::1"} {
		if !strings.Contains(args, want) {
			t.Errorf("server args %q lack %q", args, want)
		}
	}
	if !strings.HasSuffix(args, "--ice-tcp-port=0 --log-level warn --ice-tcp-port=7881") {
		t.Errorf("extra flags must come last: %q", args)
	}
	env := serverEnv([]string{"PATH=/bin", "MEET_TURN_UDP_PORT=3478", "MEET_CONFIG=/etc/meet.yaml", "HOME=/root"})
	if strings.Join(env, " ") != "PATH=/bin HOME=/root" {
		t.Errorf("env %q", env)
	}
}

// buildMeetBinary builds ./cmd/meet of this tree.
func buildMeetBinary(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "meet")
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "go", "build", "-o", bin, "./cmd/meet")
	cmd.Dir = "../.."
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build ./cmd/meet: %v\n%s", err, out)
	}
	return bin
}

// devServer is `meet --dev --listen addr` as a child process.
type devServer struct {
	listen string
	cmd    *exec.Cmd
	out    *os.File // the child's stdout and stderr; String reads it back
	exited chan struct{}
}

// startDev runs meet --dev with only --listen set and no MEET_ variable:
// every other port is --dev's own choice.
func startDev(t *testing.T, bin, listen string) *devServer {
	t.Helper()
	cmd := exec.Command(bin, "--dev", "--listen", listen)
	cmd.Env = serverEnv(os.Environ())
	cmd.WaitDelay = 5 * time.Second
	out, err := os.CreateTemp(t.TempDir(), "meet-*.log")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { out.Close() })
	d := &devServer{listen: listen, cmd: cmd, out: out, exited: make(chan struct{})}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { _ = cmd.Wait(); close(d.exited) }()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-d.exited:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			<-d.exited
		}
		if t.Failed() {
			t.Logf("meet --dev --listen %s:\n%s", listen, d.output())
		}
	})
	return d
}

// output is what the child wrote so far.
func (d *devServer) output() string {
	b, _ := os.ReadFile(d.out.Name())
	return string(b)
}

var runningLine = regexp.MustCompile(`(?m)^.*msg="meet is running".*$`)

func (d *devServer) waitRunning(t *testing.T) string {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		if l := runningLine.FindString(d.output()); l != "" {
			return l
		}
		select {
		case <-d.exited:
			t.Fatalf("meet --dev --listen %s exited:\n%s", d.listen, d.output())
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("meet --dev --listen %s not running after 20 s", d.listen)
		}
	}
}

func (d *devServer) wait(t *testing.T, limit time.Duration) int {
	t.Helper()
	select {
	case <-d.exited:
		return d.cmd.ProcessState.ExitCode()
	case <-time.After(limit):
		t.Fatalf("meet --dev --listen %s still running after %v", d.listen, limit)
		return -1
	}
}

func freeAddr(t *testing.T) string {
	t.Helper()
	p, err := freePort("tcp")
	if err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf("127.0.0.1:%d", p)
}

func holdTCP(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	return ln.Addr().String()
}

func holdUDP(t *testing.T) string {
	t.Helper()
	c, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c.LocalAddr().String()
}

func portOf(addr string) string {
	_, p, _ := net.SplitHostPort(addr)
	return p
}

// TestRoomCapArgs: a room larger than the server's default cap raises it,
// and the user's --server-args still win.
func TestRoomCapArgs(t *testing.T) {
	tests := []struct {
		size  int
		extra []string
		want  string
	}{
		{30, nil, ""},
		{sfu.DefaultMaxParticipants, []string{"--x"}, "--x"},
		{501, nil, "--max-participants=501"},
		{501, []string{"--max-participants=50"}, "--max-participants=501 --max-participants=50"},
	}
	for _, tt := range tests {
		if got := strings.Join(roomCapArgs(tt.size, tt.extra), " "); got != tt.want {
			t.Errorf("roomCapArgs(%d, %q) = %q, want %q", tt.size, tt.extra, got, tt.want)
		}
	}
}
