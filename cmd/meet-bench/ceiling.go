package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"time"

	"github.com/monkeythorn/meet/bench"
	"github.com/monkeythorn/meet/bench/ceiling"
)

// Hidden subcommands: the ceiling's receiver and the profiling server.
const (
	sinkCommand   = "_sink"
	serverCommand = "_server"
)

func runCeiling(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("meet-bench ceiling", flag.ContinueOnError)
	fs.SetOutput(stderr)
	rate := fs.String("rate", "", "packets per second, paced (e.g. 50k); empty = as fast as possible")
	dur := fs.Duration("duration", ceiling.DefaultDuration, "how long to send")
	fanout := fs.Int("fanout", ceiling.DefaultFanout, "simulated subscribers, each with its own SSRC and SRTP context")
	payload := fs.Int("payload", ceiling.DefaultPayloadSize, "RTP payload bytes per packet")
	asJSON := fs.Bool("json", false, "print one JSON object instead of a table")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	cfg := ceiling.Config{Duration: *dur, Fanout: *fanout, PayloadSize: *payload}
	if *rate != "" {
		r, err := bench.ParseRate(*rate)
		if err != nil {
			fmt.Fprintf(stderr, "meet-bench: --rate: %v\n", err)
			return 2
		}
		cfg.Rate = r
	}
	cmd, err := selfCommand(sinkCommand)
	if err != nil {
		fmt.Fprintf(stderr, "meet-bench: %v\n", err)
		return 1
	}
	cmd.Stderr = stderr
	res, err := ceiling.Run(ctx, cfg, cmd)
	if err != nil {
		fmt.Fprintf(stderr, "meet-bench: %v\n", err)
		return 1
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		_ = enc.Encode(res)
		return 0
	}
	_ = res.WriteTable(stdout)
	fmt.Fprintln(stdout, "note: on loopback the kernel delivers each datagram to the receiver inside the sender's sendto, so part of the receiver's work is billed to the sender.")
	return 0
}

// selfCommand re-executes this binary with a hidden subcommand.
func selfCommand(sub string, args ...string) (*exec.Cmd, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, fmt.Errorf("cannot find own executable: %w", err)
	}
	return exec.Command(exe, append([]string{sub}, args...)...), nil
}

// ceilingChild runs "meet-bench ceiling --rate R --json" as a separate
// process, so the ceiling's CPU is measured alone and not mixed with the
// load generator's leftovers.
func ceilingChild(ctx context.Context, rate int64, d time.Duration) (*bench.CeilingResult, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, err
	}
	cctx, cancel := context.WithTimeout(ctx, d+30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(cctx, exe, "ceiling", "--json", "--rate", fmt.Sprint(rate), "--duration", d.String())
	cmd.Stderr = os.Stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("ceiling process: %w", err)
	}
	var r bench.CeilingResult
	if err := json.Unmarshal(out, &r); err != nil {
		return nil, fmt.Errorf("ceiling process output: %w", err)
	}
	return &r, nil
}
