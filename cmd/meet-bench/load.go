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
	"runtime"
	"strings"
	"time"

	"github.com/monkeythorn/meet/bench"
	"github.com/monkeythorn/meet/bench/load"
)

// loadFlags are the flags of "meet-bench load".
type loadFlags struct {
	url, metricsURL, video, sweep, outDir, meetBin, profile            string
	serverArgs                                                         string
	rooms, pubs, subs, serverPID                                       int
	simulcast, e2ee, nack, transportCC, gro, direct, asJSON, noCeiling bool
	twoHosts, twoHostsGenerator                                        bool
	duration, warmup, waitReady                                        time.Duration
	// given are the flags set on the command line, as --name=value.
	given []string
}

func parseLoadFlags(args []string, stderr io.Writer) (*loadFlags, error) {
	f := &loadFlags{}
	fs := flag.NewFlagSet("meet-bench load", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&f.url, "url", "", "server base URL (http://127.0.0.1:8080); empty = start a meet server on free loopback ports")
	fs.StringVar(&f.meetBin, "meet-bin", "", "meet binary to start without --url; default bin/meet, else built from ./cmd/meet")
	fs.StringVar(&f.serverArgs, "server-args", "", "without --url: extra flags for the meet it starts, space-separated, e.g. \"--ice-tcp-port=7881\"; they override meet-bench's (loopback, free ports, no TURN, no ICE-TCP, MEET_ variables ignored)")
	fs.StringVar(&f.profile, "server-cpuprofile", "", "without --url: run the server in-process in a meet-bench child wired like `meet --dev` and write its CPU profile here")
	fs.IntVar(&f.serverPID, "server-pid", 0, "pid of the server given by --url, to read its CPU and RSS from /proc")
	fs.StringVar(&f.metricsURL, "metrics-url", "", "Prometheus endpoint of the server (process_cpu_seconds_total), used when its pid is unknown")
	fs.IntVar(&f.rooms, "rooms", 1, "rooms")
	fs.IntVar(&f.pubs, "publishers", 1, "video publishers per room")
	fs.IntVar(&f.subs, "subscribers", 10, "subscribers per room (receive only)")
	fs.StringVar(&f.video, "video", "1M", "video bit rate per publisher, e.g. 2000k or 2M (the top layer with --simulcast)")
	fs.BoolVar(&f.simulcast, "simulcast", false, "publish three layers, rids q/h/f at 10%/30%/100% of --video")
	fs.BoolVar(&f.e2ee, "e2ee", false, "encrypt frames with the Go E2EE implementation; subscribers decrypt them to read the send time")
	fs.BoolVar(&f.nack, "nack", false, "subscribers send NACKs as browsers do (exercises the SFU's retransmissions; off by default so loss is raw loss)")
	fs.BoolVar(&f.transportCC, "transport-cc", true, "subscribers take transport-wide sequence numbers as browsers do, so the server numbers every packet it forwards (they send no feedback); false: subscribers negotiate no header extension, as meet-bench did before")
	fs.BoolVar(&f.gro, "receive-gro", false, "subscribers' sockets take each GSO send of the server whole (UDP_GRO) and split it themselves: on loopback a receiving socket's work is billed to the server, and with GRO most of it goes, as when subscribers are on other machines (Linux)")
	fs.BoolVar(&f.direct, "direct-receive", true, "subscribers decrypt and count media in their socket's reader instead of in Pion's receive chain (ICE, DTLS, RTCP and negotiation stay Pion's): a lighter generator, which takes less CPU from the server on a small machine; off with --nack, whose NACK generator needs Pion's chain; false: as meet-bench did before")
	fs.DurationVar(&f.duration, "duration", load.DefaultDuration, "measurement window")
	fs.DurationVar(&f.warmup, "warmup", load.DefaultWarmup, "time between set-up and the window")
	fs.BoolVar(&f.asJSON, "json", false, "print the result as one JSON object on stdout (the table goes to stderr)")
	fs.BoolVar(&f.noCeiling, "no-ceiling", false, "skip the ceiling measurement after the load")
	fs.BoolVar(&f.twoHosts, "two-hosts", false, "without --url: run the server and the generator as two hosts on this machine, each in a network namespace of its own with half the CPUs, joined by a veth pair, each side's receive work steered to its own CPUs; on loopback the subscribers' kernel receive work is billed to the server, here it is the generator's, as with subscribers on other machines (Linux, root, ip and taskset, 2+ CPUs)")
	fs.BoolVar(&f.twoHostsGenerator, "two-hosts-generator", false, "set by --two-hosts on the generator it starts: records the placement in the result")
	fs.DurationVar(&f.waitReady, "wait-ready", 0, "with --url: wait up to this long for the server's /healthz to answer before starting (a server just started)")
	fs.StringVar(&f.sweep, "sweep", "", "run at several sizes, e.g. subscribers=10,50,100,200; writes CSV, SVG and JSON to --out")
	fs.StringVar(&f.outDir, "out", "bench-out", "output directory of --sweep")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	fs.Visit(func(fl *flag.Flag) { f.given = append(f.given, "--"+fl.Name+"="+fl.Value.String()) })
	if f.twoHosts && (f.url != "" || f.profile != "" || f.twoHostsGenerator) {
		fmt.Fprintln(stderr, "meet-bench: --two-hosts starts its own server: leave out --url, --server-cpuprofile and --two-hosts-generator")
		return nil, errors.New("--two-hosts with --url")
	}
	if f.nack {
		direct := false
		fs.Visit(func(fl *flag.Flag) { direct = direct || fl.Name == "direct-receive" })
		if direct && f.direct {
			fmt.Fprintln(stderr, "meet-bench: --nack needs Pion's receive chain: give --direct-receive=false or leave it out")
			return nil, errors.New("--nack with --direct-receive")
		}
		f.direct = false
	}
	return f, nil
}

func runLoad(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	f, err := parseLoadFlags(args, stderr)
	if err != nil {
		return 2
	}
	bps, err := bench.ParseBitrate(f.video)
	if err != nil {
		fmt.Fprintf(stderr, "meet-bench: --video: %v\n", err)
		return 2
	}
	var sweep bench.Sweep
	if f.sweep != "" {
		if sweep, err = bench.ParseSweep(f.sweep); err != nil {
			fmt.Fprintf(stderr, "meet-bench: --sweep: %v\n", err)
			return 2
		}
	}
	if f.twoHosts {
		return runTwoHosts(ctx, f, roomSize(f, sweep), stdout, stderr)
	}
	if f.waitReady > 0 && f.url != "" {
		if err := waitHealthy(ctx, f.url, f.waitReady, nil); err != nil {
			fmt.Fprintf(stderr, "meet-bench: %v\n", err)
			return 1
		}
	}
	cfg := load.Config{
		URL: f.url, TwoHosts: f.twoHostsGenerator, Rooms: f.rooms, Publishers: f.pubs, Subscribers: f.subs, VideoBps: bps,
		Simulcast: f.simulcast, E2EE: f.e2ee, NACK: f.nack, TransportCC: f.transportCC, ReceiveGRO: f.gro, DirectReceive: f.direct, Duration: f.duration, Warmup: f.warmup,
		ServerPID: f.serverPID, MetricsURL: f.metricsURL, Progress: progressWriter(stderr),
		Logger: slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn})),
	}
	if !f.noCeiling {
		cfg.Ceiling = ceilingChild
	}
	if cfg.URL == "" {
		srv, err := startServer(ctx, f.meetBin, f.profile, roomCapArgs(roomSize(f, sweep), strings.Fields(f.serverArgs)), stderr)
		if err != nil {
			fmt.Fprintf(stderr, "meet-bench: %v\n", err)
			return 1
		}
		defer srv.stop()
		cfg.URL, cfg.ServerPID = srv.url, srv.pid
		if cfg.MetricsURL == "" {
			cfg.MetricsURL = srv.metricsURL
		}
	}
	if f.sweep == "" {
		res, err := load.Run(ctx, cfg)
		if err != nil {
			fmt.Fprintf(stderr, "meet-bench: %v\n", err)
			return 1
		}
		report(res, f.asJSON, stdout, stderr)
		return 0
	}
	return runSweep(ctx, cfg, sweep, f, stdout, stderr)
}

// roomSize is the largest room the run (or sweep) will fill.
func roomSize(f *loadFlags, sweep bench.Sweep) int {
	pubs, subs := f.pubs, f.subs
	for _, v := range sweep.Values {
		switch sweep.Param {
		case "publishers":
			pubs = max(pubs, v)
		case "subscribers":
			subs = max(subs, v)
		}
	}
	return pubs + subs
}

// sharedNote says why the generator's CPU matters on a small machine.
func sharedNote(res *bench.Result) {
	if res.Scenario.TwoHosts {
		res.Notes = append(res.Notes, "two hosts: the server and the generator each had CPUs and a network namespace of their own; the subscribers' kernel receive work was the generator's, not the server's")
		return
	}
	if n := runtime.NumCPU(); n <= 4 {
		res.Notes = append(res.Notes, fmt.Sprintf("this machine has %d cores: the generator (bench_cpu_cores) competes with the server for them", n))
	}
}

func report(res *bench.Result, asJSON bool, stdout, stderr io.Writer) {
	sharedNote(res)
	if asJSON {
		_ = res.WriteTable(stderr)
		_ = res.WriteJSON(stdout)
		return
	}
	_ = res.WriteTable(stdout)
}

func runSweep(ctx context.Context, cfg load.Config, sw bench.Sweep, f *loadFlags, stdout, stderr io.Writer) int {
	if err := os.MkdirAll(f.outDir, 0o755); err != nil {
		fmt.Fprintf(stderr, "meet-bench: %v\n", err)
		return 1
	}
	var pts []bench.SweepPoint
	for _, v := range sw.Values {
		c := cfg
		switch sw.Param {
		case "subscribers":
			c.Subscribers = v
		case "publishers":
			c.Publishers = v
		case "rooms":
			c.Rooms = v
		}
		fmt.Fprintf(stderr, "== %s=%d\n", sw.Param, v)
		res, err := load.Run(ctx, c)
		if err != nil {
			fmt.Fprintf(stderr, "meet-bench: %s=%d: %v\n", sw.Param, v, err)
			if ctx.Err() != nil {
				return 1
			}
			continue
		}
		sharedNote(res)
		_ = res.WriteTable(stderr)
		pts = append(pts, bench.SweepPoint{X: v, Result: res})
	}
	if len(pts) == 0 {
		fmt.Fprintln(stderr, "meet-bench: no sweep point succeeded")
		return 1
	}
	title := fmt.Sprintf("meet-bench: %d room(s), %d publisher(s) at %s%s, sweep over %s",
		cfg.Rooms, cfg.Publishers, bench.FormatBitrate(float64(cfg.VideoBps)), map[bool]string{true: " simulcast", false: ""}[cfg.Simulcast], sw.Param)
	write := func(name string, fn func(io.Writer) error) error {
		fh, err := os.Create(filepath.Join(f.outDir, name))
		if err != nil {
			return err
		}
		if err := fn(fh); err != nil {
			fh.Close()
			return err
		}
		return fh.Close()
	}
	results := make([]*bench.Result, len(pts))
	for i, p := range pts {
		results[i] = p.Result
	}
	errs := []error{
		write("sweep.csv", func(w io.Writer) error { return bench.WriteCSV(w, sw.Param, pts) }),
		write("sweep.svg", func(w io.Writer) error { return bench.WriteSVG(w, sw.Param, title, pts) }),
		write("sweep.json", func(w io.Writer) error {
			enc := json.NewEncoder(w)
			enc.SetIndent("", "  ")
			return enc.Encode(results)
		}),
	}
	for _, err := range errs {
		if err != nil {
			fmt.Fprintf(stderr, "meet-bench: %v\n", err)
			return 1
		}
	}
	fmt.Fprintf(stdout, "wrote %s/sweep.csv, sweep.svg and sweep.json (%d points)\n", f.outDir, len(pts))
	return 0
}

// progressWriter rewrites the progress line in place on a terminal and
// prints one line a second otherwise (logs, CI), where \r would pile every
// update into one line.
func progressWriter(w io.Writer) io.Writer {
	if f, ok := w.(*os.File); ok {
		if st, err := f.Stat(); err == nil && st.Mode()&os.ModeCharDevice != 0 {
			return w
		}
	}
	return lineWriter{w}
}

type lineWriter struct{ w io.Writer }

func (l lineWriter) Write(p []byte) (int, error) {
	s := strings.TrimRight(strings.TrimPrefix(string(p), "\r"), " ")
	if s == "\n" || s == "" {
		return len(p), nil
	}
	if !strings.HasSuffix(s, "\n") {
		s += "\n"
	}
	_, err := io.WriteString(l.w, s)
	return len(p), err
}
