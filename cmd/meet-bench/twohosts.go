package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"sync"
	"time"

	"github.com/monkeythorn/meet/bench/twohosts"
)

// The server's ports inside its own network namespace, where nothing else
// listens.
const (
	twoHostsHTTPPort    = 8080
	twoHostsUDPPort     = 50000
	twoHostsMetricsPort = 9090
)

// runTwoHosts is meet-bench load --two-hosts: it splits the machine in two
// (bench/twohosts), starts meet on the server host and this command again
// on the generator host with --url pointing at it, relays the generator's
// output and exit code, then stops the server and removes the hosts.
func runTwoHosts(ctx context.Context, f *loadFlags, roomSize int, stdout, stderr io.Writer) int {
	// The server, the generator and this process all write to stderr; a
	// writer that is not a file is copied to by a goroutine per child.
	stderr = &lockedWriter{w: stderr}
	pair, err := twohosts.New(ctx)
	if err != nil {
		fmt.Fprintf(stderr, "meet-bench: --two-hosts: %v\n", err)
		return 1
	}
	defer func() {
		if err := pair.Close(); err != nil {
			fmt.Fprintf(stderr, "meet-bench: %v\n", err)
		}
	}()
	bin, cleanup, err := meetBinary(f.meetBin, stderr)
	if err != nil {
		fmt.Fprintf(stderr, "meet-bench: %v\n", err)
		return 1
	}
	defer cleanup()
	ip := pair.Server.IP.String()
	args := serverArgsAt(ip, pair.Generator.IP.String(), twoHostsHTTPPort, twoHostsUDPPort, twoHostsMetricsPort,
		roomCapArgs(roomSize, strings.Fields(f.serverArgs)))
	srv, err := startChild(pair.Server.Command(context.Background(), bin, args...), fmt.Sprintf("http://%s:%d", ip, twoHostsHTTPPort),
		fmt.Sprintf("http://%s:%d/metrics", ip, twoHostsMetricsPort), func() {}, stderr)
	if err != nil {
		fmt.Fprintf(stderr, "meet-bench: %v\n", err)
		return 1
	}
	defer srv.stop()

	exe, err := os.Executable()
	if err != nil {
		fmt.Fprintf(stderr, "meet-bench: cannot find own executable: %v\n", err)
		return 1
	}
	gen := pair.Generator.Command(ctx, exe, generatorArgs(f, srv)...)
	gen.Stdout, gen.Stderr = stdout, stderr
	// Ctrl-C: the generator stops as it would on its own, then is killed.
	gen.Cancel = func() error { return gen.Process.Signal(os.Interrupt) }
	gen.WaitDelay = 15 * time.Second
	fmt.Fprintf(stderr, "meet-bench: two hosts: server %s on CPU %v, generator %s on CPU %v\n",
		pair.Server.IP, pair.Server.CPUs, pair.Generator.IP, pair.Generator.CPUs)
	if err := gen.Run(); err != nil {
		var exit *exec.ExitError
		if errors.As(err, &exit) && exit.ExitCode() > 0 {
			return exit.ExitCode()
		}
		fmt.Fprintf(stderr, "meet-bench: generator: %v\n", err)
		return 1
	}
	return 0
}

// generatorArgs are the flags of the generator --two-hosts starts: the
// user's, less those about starting the server, plus where the server is.
func generatorArgs(f *loadFlags, srv *childServer) []string {
	args := []string{"load"}
	for _, a := range f.given {
		name := strings.TrimPrefix(a[:strings.IndexByte(a, '=')], "--")
		switch name {
		case "two-hosts", "meet-bin", "server-args":
			continue
		}
		args = append(args, a)
	}
	return append(args, "--url", srv.url, "--server-pid", fmt.Sprint(srv.pid), "--metrics-url", srv.metricsURL,
		"--wait-ready", "30s", "--two-hosts-generator")
}

// lockedWriter serialises writes from several goroutines.
type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}
