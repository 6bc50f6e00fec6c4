package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/monkeythorn/meet/bench"
	"github.com/monkeythorn/meet/bench/load"
)

// churnFlags are the flags of "meet-bench churn".
type churnFlags struct {
	url, metricsURL, pprofURL, rate, video, outDir, meetBin, serverArgs string
	inRoom, serverPID, marginGoroutines, marginFDs                      int
	marginHeapMB                                                        float64
	duration, sample, settle                                            time.Duration
	asJSON, check                                                       bool
}

func parseChurnFlags(args []string, stderr io.Writer) (*churnFlags, error) {
	f := &churnFlags{}
	fs := flag.NewFlagSet("meet-bench churn", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&f.url, "url", "", "server base URL; empty = start a meet server (with --debug-pprof) on free loopback ports")
	fs.StringVar(&f.meetBin, "meet-bin", "", "meet binary to start without --url; default bin/meet, else built from ./cmd/meet")
	fs.StringVar(&f.serverArgs, "server-args", "", "without --url: extra flags for the meet it starts, space-separated")
	fs.StringVar(&f.metricsURL, "metrics-url", "", "with --url: the server's Prometheus endpoint (goroutines, open files, RSS)")
	fs.StringVar(&f.pprofURL, "pprof-url", "", "with --url: the server's /debug/pprof (meet --debug-pprof), for heap in use after GC; default next to --metrics-url")
	fs.IntVar(&f.serverPID, "server-pid", 0, "with --url: the server's pid, to read open files and RSS from /proc")
	fs.StringVar(&f.rate, "rate", "200/min", "joins (and as many leaves) per minute or second, e.g. 200/min or 3/s")
	fs.IntVar(&f.inRoom, "in-room", 8, "participants in the room between joins; each publishes video")
	fs.StringVar(&f.video, "video", "300k", "video bit rate of each participant")
	fs.DurationVar(&f.duration, "duration", 10*time.Minute, "how long to churn")
	fs.DurationVar(&f.sample, "sample", load.DefaultChurnSample, "how often to sample the server")
	fs.DurationVar(&f.settle, "settle", load.DefaultChurnSettle, "after the last leave: how long to wait for the server to come back to its baseline")
	fs.StringVar(&f.outDir, "out", "bench-out", "output directory: churn.csv, churn.svg, churn.json")
	fs.BoolVar(&f.asJSON, "json", false, "print the result as JSON on stdout")
	fs.BoolVar(&f.check, "check", false, "exit 1 if the emptied server ends above its baseline by more than the margins")
	fs.IntVar(&f.marginGoroutines, "margin-goroutines", 5, "with --check: goroutines allowed above the baseline")
	fs.IntVar(&f.marginFDs, "margin-fds", 3, "with --check: open files allowed above the baseline")
	fs.Float64Var(&f.marginHeapMB, "margin-heap-mb", 4, "with --check: MB of heap in use (after GC) allowed above the baseline")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	return f, nil
}

// parsePerMinute reads "200/min", "3/s" or a plain number of joins per
// minute.
func parsePerMinute(s string) (float64, error) {
	n, unit, _ := strings.Cut(s, "/")
	v, err := strconv.ParseFloat(n, 64)
	if err != nil || v <= 0 {
		return 0, fmt.Errorf("%q: want a rate such as 200/min or 3/s", s)
	}
	switch unit {
	case "", "min", "m":
		return v, nil
	case "s", "sec":
		return v * 60, nil
	}
	return 0, fmt.Errorf("%q: the unit is /min or /s", s)
}

func runChurn(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	f, err := parseChurnFlags(args, stderr)
	if err != nil {
		return 2
	}
	perMin, err := parsePerMinute(f.rate)
	if err != nil {
		fmt.Fprintf(stderr, "meet-bench: --rate %v\n", err)
		return 2
	}
	bps, err := bench.ParseBitrate(f.video)
	if err != nil {
		fmt.Fprintf(stderr, "meet-bench: --video: %v\n", err)
		return 2
	}
	cfg := load.ChurnConfig{URL: f.url, JoinsPerMin: perMin, InRoom: f.inRoom, Duration: f.duration, VideoBps: bps,
		SampleEvery: f.sample, Settle: f.settle, Progress: progressWriter(stderr),
		Probe:  bench.ServerProbe{MetricsURL: f.metricsURL, PprofURL: f.pprofURL, PID: f.serverPID},
		Logger: slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))}
	if cfg.URL == "" {
		extra := append([]string{"--debug-pprof=true"}, strings.Fields(f.serverArgs)...)
		srv, err := startServer(ctx, f.meetBin, "", extra, stderr)
		if err != nil {
			fmt.Fprintf(stderr, "meet-bench: %v\n", err)
			return 1
		}
		defer srv.stop()
		cfg.URL, cfg.Probe.PID, cfg.Probe.MetricsURL = srv.url, srv.pid, srv.metricsURL
	}
	if cfg.Probe.PprofURL == "" && cfg.Probe.MetricsURL != "" {
		cfg.Probe.PprofURL = strings.TrimSuffix(cfg.Probe.MetricsURL, "/metrics") + "/debug/pprof"
	}
	res, err := load.Churn(ctx, cfg)
	if err != nil {
		fmt.Fprintf(stderr, "meet-bench: %v\n", err)
		return 1
	}
	if err := writeChurn(f.outDir, res); err != nil {
		fmt.Fprintf(stderr, "meet-bench: %v\n", err)
		return 1
	}
	printChurn(stderr, res)
	if f.asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		_ = enc.Encode(res)
	} else {
		fmt.Fprintf(stdout, "wrote %s/churn.csv, churn.svg and churn.json (%d samples)\n", f.outDir, len(res.Points))
	}
	if f.check {
		err := res.Leaked(load.ChurnMargins{Goroutines: f.marginGoroutines, OpenFDs: f.marginFDs, HeapBytes: f.marginHeapMB * 1e6})
		if res.Failures > 0 {
			err = errors.Join(err, fmt.Errorf("%d of %d joins failed: %v", res.Failures, res.Joins, res.Errors))
		}
		if err != nil {
			fmt.Fprintf(stderr, "meet-bench: check failed:\n%v\n", err)
			return 1
		}
	}
	return 0
}

func printChurn(w io.Writer, r *load.ChurnResult) {
	fmt.Fprintf(w, "churn: %d joins (%d failed) in %.0f s, join p50 %.0f ms p99 %.0f ms\n", r.Joins, r.Failures, r.DurationS, float64(r.JoinP50Ms), float64(r.JoinP99Ms))
	row := func(name string, s bench.ServerSample) {
		fmt.Fprintf(w, "  %-8s goroutines %5.0f  open files %4.0f  RSS %6.1f MB  heap in use after GC %6.1f MB\n",
			name, float64(s.Goroutines), float64(s.OpenFDs), float64(s.RSSBytes)/1e6, float64(s.HeapInuseBytes)/1e6)
	}
	row("before", r.Baseline)
	row("after", r.Final)
}

func writeChurn(dir string, res *load.ChurnResult) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	write := func(name string, fn func(io.Writer) error) error {
		fh, err := os.Create(filepath.Join(dir, name))
		if err != nil {
			return err
		}
		if err := fn(fh); err != nil {
			fh.Close()
			return err
		}
		return fh.Close()
	}
	return errors.Join(
		write("churn.csv", func(w io.Writer) error { return load.WriteChurnCSV(w, res) }),
		write("churn.svg", func(w io.Writer) error { return load.WriteChurnSVG(w, res) }),
		write("churn.json", func(w io.Writer) error {
			enc := json.NewEncoder(w)
			enc.SetIndent("", "  ")
			return enc.Encode(res)
		}),
	)
}
