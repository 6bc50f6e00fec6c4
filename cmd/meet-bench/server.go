package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/pprof"
	"strings"
	"syscall"
	"time"

	"crypto/rand"

	"github.com/monkeythorn/meet/admission"
	"github.com/monkeythorn/meet/server"
	"github.com/monkeythorn/meet/sfu"
)

// loopback is where meet-bench's own clients come from: trusted, so the
// per-address limits do not throttle the load it generates.
var loopback = []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("::1/128")}

// childServer is a meet server meet-bench started.
type childServer struct {
	cmd        *exec.Cmd
	url        string
	metricsURL string // "" for the profiling server, which serves none
	pid        int
	done       chan struct{}
}

// freePort asks the kernel for a free port on 127.0.0.1. Another process
// could take it before the server binds it; the server then fails to start
// and the error says so.
func freePort(network string) (int, error) {
	switch network {
	case "udp":
		c, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
		if err != nil {
			return 0, err
		}
		defer c.Close()
		return c.LocalAddr().(*net.UDPAddr).Port, nil
	default:
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return 0, err
		}
		defer l.Close()
		return l.Addr().(*net.TCPAddr).Port, nil
	}
}

// repoRoot finds the module root by walking up from the working directory.
func repoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		b, err := os.ReadFile(filepath.Join(dir, "go.mod"))
		if err == nil && bytes.Contains(b, []byte("module github.com/monkeythorn/meet\n")) {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("not inside the meet repository; pass --meet-bin or --url")
		}
		dir = parent
	}
}

// meetBinary returns the server binary: the flag, else bin/meet, else one
// built now from ./cmd/meet into a temporary directory.
func meetBinary(flagValue string, stderr io.Writer) (path string, cleanup func(), err error) {
	if flagValue != "" {
		return flagValue, func() {}, nil
	}
	root, err := repoRoot()
	if err != nil {
		return "", nil, err
	}
	if p := filepath.Join(root, "bin", "meet"); fileExists(p) {
		return p, func() {}, nil
	}
	tmp, err := os.MkdirTemp("", "meet-bench-")
	if err != nil {
		return "", nil, err
	}
	out := filepath.Join(tmp, "meet")
	fmt.Fprintln(stderr, "meet-bench: building ./cmd/meet (no bin/meet; run `make build` to skip this)")
	cmd := exec.Command("go", "build", "-o", out, "./cmd/meet")
	cmd.Dir, cmd.Stderr = root, stderr
	if err := cmd.Run(); err != nil {
		os.RemoveAll(tmp)
		return "", nil, fmt.Errorf("build meet: %w", err)
	}
	return out, func() { os.RemoveAll(tmp) }, nil
}

func fileExists(p string) bool {
	st, err := os.Stat(p)
	return err == nil && !st.IsDir()
}

// serverArgs are the flags of the meet server meet-bench starts: loopback
// only, free ports for HTTP, media and metrics, and every side service
// that would hold a fixed port (TURN, ICE-TCP) off, so that it starts
// beside `make run` or another meet-bench. extra (--server-args) comes
// last and so wins.
func serverArgs(httpPort, udpPort, metricsPort int, extra []string) []string {
	return serverArgsAt("127.0.0.1", "127.0.0.1,::1", httpPort, udpPort, metricsPort, extra)
}

// serverArgsAt is serverArgs on address ip, trusting the generator's
// addresses (--two-hosts runs the server on the pair's address).
func serverArgsAt(ip, trusted string, httpPort, udpPort, metricsPort int, extra []string) []string {
	args := []string{"--dev", "--listen", net.JoinHostPort(ip, fmt.Sprint(httpPort)), "--udp-port", fmt.Sprint(udpPort),
		"--media-ip", ip, "--metrics-listen", net.JoinHostPort(ip, fmt.Sprint(metricsPort)),
		// The load generator is a trusted client: the per-address limits
		// (docs/security.md) would throttle its hundreds of joins.
		"--trusted-clients", trusted,
		"--turn-udp-port=0", "--turn-tcp-port=0", "--turn-tls-port=0", "--ice-tcp-port=0", "--log-level", "warn"}
	return append(args, extra...)
}

// roomCapArgs raises the server's room cap (--max-participants) when a
// room of the benchmark holds more than the default; extra (the user's
// --server-args) comes after it and so wins.
func roomCapArgs(roomSize int, extra []string) []string {
	if roomSize <= sfu.DefaultMaxParticipants {
		return extra
	}
	return append([]string{fmt.Sprintf("--max-participants=%d", roomSize)}, extra...)
}

// serverEnv is the environment without MEET_ variables: the settings of
// the user's own server (a config file, a Redis URL, fixed ports) are not
// the benchmark's. --server-args is how to ask for one.
func serverEnv(environ []string) []string {
	var out []string
	for _, kv := range environ {
		if !strings.HasPrefix(kv, "MEET_") {
			out = append(out, kv)
		}
	}
	return out
}

// startServer starts meet (or, with profile set, meet-bench's profiling
// server) on free loopback ports and waits until /healthz answers.
func startServer(ctx context.Context, meetBin, profile string, extra []string, stderr io.Writer) (*childServer, error) {
	var ports [3]int
	for i, network := range []string{"tcp", "udp", "tcp"} {
		p, err := freePort(network)
		if err != nil {
			return nil, err
		}
		ports[i] = p
	}
	var cmd *exec.Cmd
	var err error
	cleanup := func() {}
	if profile != "" {
		args := []string{"--listen", fmt.Sprintf("127.0.0.1:%d", ports[0]), "--udp-port", fmt.Sprint(ports[1]), "--cpuprofile", profile}
		for _, a := range extra {
			if strings.HasPrefix(a, "--max-participants=") {
				args = append(args, a)
			}
		}
		if cmd, err = selfCommand(serverCommand, args...); err != nil {
			return nil, err
		}
	} else {
		var bin string
		if bin, cleanup, err = meetBinary(meetBin, stderr); err != nil {
			return nil, err
		}
		cmd = exec.Command(bin, serverArgs(ports[0], ports[1], ports[2], extra)...)
	}
	metricsURL := ""
	if profile == "" {
		metricsURL = fmt.Sprintf("http://127.0.0.1:%d/metrics", ports[2])
	}
	s, err := startChild(cmd, fmt.Sprintf("http://127.0.0.1:%d", ports[0]), metricsURL, cleanup, stderr)
	if err != nil {
		return nil, err
	}
	if err := s.waitReady(ctx, 20*time.Second); err != nil {
		s.stop()
		return nil, err
	}
	return s, nil
}

// startChild starts cmd, a server that will answer on url, without the
// MEET_ variables and with its output on stderr; cleanup runs once it has
// exited (or failed to start).
func startChild(cmd *exec.Cmd, url, metricsURL string, cleanup func(), stderr io.Writer) (*childServer, error) {
	cmd.Env = serverEnv(os.Environ())
	cmd.Stdout, cmd.Stderr = stderr, stderr
	if err := cmd.Start(); err != nil {
		cleanup()
		return nil, fmt.Errorf("start server: %w", err)
	}
	s := &childServer{cmd: cmd, url: url, metricsURL: metricsURL, pid: cmd.Process.Pid, done: make(chan struct{})}
	go func() { cmd.Wait(); cleanup(); close(s.done) }()
	return s, nil
}

func (s *childServer) waitReady(ctx context.Context, limit time.Duration) error {
	return waitHealthy(ctx, s.url, limit, s.done)
}

// waitHealthy polls url's /healthz until it answers, the limit passes or
// exited (nil for a server that is not ours) is closed.
func waitHealthy(ctx context.Context, url string, limit time.Duration, exited <-chan struct{}) error {
	deadline := time.Now().Add(limit)
	c := &http.Client{Timeout: time.Second}
	for time.Now().Before(deadline) {
		select {
		case <-exited:
			return errors.New("the server exited at start-up (see its output above)")
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
		resp, err := c.Get(url + "/healthz")
		if err == nil {
			resp.Body.Close()
			return nil
		}
	}
	return fmt.Errorf("the server did not answer on %s within %v", url, limit)
}

// stop asks the server to shut down gracefully, then kills it.
func (s *childServer) stop() {
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.done:
	case <-time.After(15 * time.Second):
		_ = s.cmd.Process.Kill()
		<-s.done
	}
}

// runProfiledServer is the hidden "_server" subcommand: the server wired as
// cmd/meet wires it with --dev and a loopback media IP, plus a CPU profile
// of the whole run. It exists because meet has no profiling flag; the
// wiring is the few lines of cmd/meet's run, so the profile shows the same
// code the real binary runs.
func runProfiledServer(ctx context.Context, args []string, stderr io.Writer) int {
	fs := flag.NewFlagSet("meet-bench _server", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Bool("dev", true, "always on")
	listen := fs.String("listen", "127.0.0.1:0", "")
	udpPort := fs.Int("udp-port", 0, "")
	mediaIP := fs.String("media-ip", "127.0.0.1", "")
	roomCap := fs.Int("max-participants", 0, "room cap; 0 = the SFU's default")
	fs.String("log-level", "warn", "")
	profile := fs.String("cpuprofile", "", "CPU profile output")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	secret := make([]byte, 48)
	rand.Read(secret)
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	srv, err := server.New(server.Config{Logger: log, Secret: secret,
		SFU:    sfu.Config{ListenIP: *mediaIP, UDPPort: *udpPort, IncludeLoopback: true, MaxParticipants: *roomCap},
		Limits: admission.Config{Exempt: loopback}})
	if err != nil {
		fmt.Fprintf(stderr, "meet-bench _server: %v\n", err)
		return 1
	}
	if _, err := srv.Start(*listen); err != nil {
		fmt.Fprintf(stderr, "meet-bench _server: %v\n", err)
		return 1
	}
	if *profile != "" {
		fh, err := os.Create(*profile)
		if err != nil {
			fmt.Fprintf(stderr, "meet-bench _server: %v\n", err)
			return 1
		}
		defer fh.Close()
		if err := pprof.StartCPUProfile(fh); err != nil {
			fmt.Fprintf(stderr, "meet-bench _server: %v\n", err)
			return 1
		}
		defer pprof.StopCPUProfile()
	}
	<-ctx.Done()
	sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil && !strings.Contains(err.Error(), "closed") {
		fmt.Fprintf(stderr, "meet-bench _server: shutdown: %v\n", err)
	}
	return 0
}
