// Command meet is the MonkeyThorn Meet server: HTTP API, signaling, the web
// client and the SFU in one process. See --help for its flags.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/monkeythorn/meet/cluster"
	"github.com/monkeythorn/meet/server"
	"github.com/monkeythorn/meet/sfu"
)

func main() {
	// One channel for both signals, registered before anything runs: had
	// the second been registered after the first arrived, a quick second
	// signal could hit the default handler and kill the process uncleanly.
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		<-sigs
		cancel() // first: drain
		<-sigs
		fmt.Fprintln(os.Stderr, "meet: second signal, exiting now")
		os.Exit(1)
	}()
	os.Exit(run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr))
}

// run is main without the process: it returns the exit code (0 done, 1
// failed while running, 2 bad configuration; `meet config check` only
// checks) and stops gracefully when ctx
// ends.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	if rest, ok, err := subcommand(args); err != nil {
		printProblems(stderr, err)
		return 2
	} else if ok {
		return configCheck(rest, getenv, stdout, stderr)
	}
	cfg, err := parseConfig(args, getenv, stdout)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		printProblems(stderr, err)
		return 2
	}
	log := newLogger(cfg, stderr)
	if cfg.Dev {
		fmt.Fprintln(stderr, "meet: DEVELOPMENT MODE: the token secret is generated in memory and changes on every start; do not use this in production")
	}
	if cfg.Cluster.RedisURL != "" {
		// go-redis logs through a process-wide logger; this is the process.
		redis.SetLogger(cluster.RedisLog{Logger: log})
	}
	ts, err := newTLSSetup(cfg.Ops)
	if err != nil {
		fmt.Fprintf(stderr, "meet: %v\n", err)
		return 2
	}
	srv, err := server.New(server.Config{
		Logger:         log,
		Secret:         cfg.Secret,
		PublicURL:      cfg.PublicURL,
		EmbeddedTURN:   embeddedTURN(cfg, ts, log),
		ProcessMetrics: true,
		Billing:        cfg.Billing,
		Cluster:        cfg.Cluster.clusterConfig(log), // nil: one node
		Limits:         cfg.Limits.Limits,
		HTTP:           cfg.Limits.HTTP,
		Signaling:      cfg.Limits.signaling(),
		SFU: sfu.Config{
			ListenIP:        cfg.MediaIP,
			UDPPort:         cfg.UDPPort,
			MaxParticipants: cfg.MaxParticipants,
			PublicIP:        cfg.PublicIP,
			IncludeLoopback: cfg.Dev,
			TCPPort:         cfg.Ops.ICETCPPort,
			// Abuse limits (docs/security.md).
			MaxTracksPerParticipant: cfg.Limits.TracksPerParticipant,
			MaxTracksPerRoom:        cfg.Limits.TracksPerRoom,
			MediaTimeout:            cfg.Limits.MediaTimeout,
		},
	})
	if err != nil {
		printStartError(stderr, err, cfg)
		if errors.Is(err, server.ErrConfig) {
			return 2
		}
		return 1
	}
	return serve(ctx, srv, cfg, ts, log, stderr)
}

// printStartError writes why the server could not start: for a port that
// is taken, one line naming the flag to change.
func printStartError(w io.Writer, err error, cfg *config) {
	if line, ok := bindProblem(err, cfg); ok {
		fmt.Fprintf(w, "meet: %s\n", line)
		return
	}
	fmt.Fprintf(w, "meet: %v\n", err)
}

// serve runs the listeners until ctx ends (the first signal), then drains
// and stops. A second signal is main's business: it exits at once.
func serve(ctx context.Context, srv *server.Server, cfg *config, ts *tlsSetup, log *slog.Logger, stderr io.Writer) int {
	fail := func(err error, auxs ...*aux) int {
		printStartError(stderr, err, cfg)
		for _, a := range auxs {
			a.close(context.Background())
		}
		_ = srv.Shutdown(context.Background())
		return 1
	}
	addr, err := startMain(srv, cfg.Listen, ts, log)
	if err != nil {
		return fail(err)
	}
	var acmeHTTP, metricsHTTP *aux
	if ts.acme != nil {
		if acmeHTTP, err = startAux("http-listen", cfg.Ops.HTTPListen, srv.HTTPServer(ts.acme.HTTPHandler(nil)), log); err != nil {
			return fail(err)
		}
	}
	if cfg.Ops.MetricsListen != "" {
		ms := srv.HTTPServer(metricsHandler(srv, cfg.Ops.DebugPprof))
		if cfg.Ops.DebugPprof {
			// A CPU profile or trace streams for its ?seconds=; pprof
			// refuses any longer than the write time-out. The listener
			// is loopback only.
			ms.WriteTimeout = 0
		}
		if metricsHTTP, err = startAux("metrics-listen", cfg.Ops.MetricsListen, ms, log); err != nil {
			return fail(err, acmeHTTP)
		}
	}
	stopHUP := reloadOnHUP(ts, log)
	defer stopHUP()
	log.Info("meet is running", runningAttrs(srv, cfg, addr, ts, acmeHTTP, metricsHTTP)...)
	<-ctx.Done()
	err = drainAndStop(srv, cfg, log)
	actx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	acmeHTTP.close(actx)
	metricsHTTP.close(actx)
	if err != nil {
		log.Error("shutdown", "err", err)
		return 1
	}
	log.Info("stopped")
	return 0
}
