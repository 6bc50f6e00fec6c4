// Command meet-bench is MonkeyThorn Meet's load generator and benchmark
// report tool (docs/benchmarks.md):
//
//	meet-bench ceiling   the bare forwarding path on this machine
//	meet-bench load      real Pion clients against a meet server
//	meet-bench churn     joins and leaves at a steady rate: a leak soak
//
// Without --url, load starts a meet server itself (bin/meet, or built from
// ./cmd/meet) on free loopback ports and reads its CPU from /proc.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/monkeythorn/meet/bench/ceiling"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Stdout, os.Stderr))
}

const usage = `Usage: meet-bench <command> [flags]

Commands:
  ceiling   measure the bare path (RTP rewrite + SRTP AES-GCM + sendto) in
            packets per CPU-second of the sending process
  load      run real WebRTC clients against a meet server and report
            throughput, server CPU, loss and latency
  churn     join and leave one room at a steady rate for a long time and
            sample the server's goroutines, open files, RSS and heap after
            GC, and join latency (a soak test for leaks)

Run "meet-bench <command> --help" for the flags of each.
`

// run is main without the process, for tests: it returns the exit code.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	switch args[0] {
	case "ceiling":
		return runCeiling(ctx, args[1:], stdout, stderr)
	case "load":
		return runLoad(ctx, args[1:], stdout, stderr)
	case "churn":
		return runChurn(ctx, args[1:], stdout, stderr)
	case sinkCommand:
		// Hidden: the ceiling's receiver, started by ceiling itself.
		if err := ceiling.ServeSink(os.Stdin, stdout, ceiling.MaxDuration+time.Minute); err != nil {
			fmt.Fprintf(stderr, "meet-bench: sink: %v\n", err)
			return 1
		}
		return 0
	case serverCommand:
		return runProfiledServer(ctx, args[1:], stderr)
	case "-h", "--help", "help":
		fmt.Fprint(stdout, usage)
		return 0
	}
	fmt.Fprintf(stderr, "meet-bench: unknown command %q\n\n%s", args[0], usage)
	return 2
}
