// Command meet is the MonkeyThorn Meet server: HTTP API, signaling, the web
// client and the SFU in one process. See --help for its flags.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/redis/go-redis/v9"

	"github.com/monkeythorn/meet/cluster"
	"github.com/monkeythorn/meet/server"
	"github.com/monkeythorn/meet/sfu"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	go func() {
		<-ctx.Done()
		stop() // later signals are ours again, not the context's
		second := make(chan os.Signal, 1)
		signal.Notify(second, os.Interrupt, syscall.SIGTERM)
		<-second
		fmt.Fprintln(os.Stderr, "meet: second signal, exiting now")
		os.Exit(1)
	}()
	os.Exit(run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr))
}

// run is main without the process: it returns the exit code (0 done, 1
// failed while running, 2 bad configuration) and stops gracefully when ctx
// ends.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	cfg, err := parseConfig(args, getenv, stdout)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintf(stderr, "meet: %v\n", err)
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
	srv, err := server.New(server.Config{
		Logger:    log,
		Secret:    cfg.Secret,
		PublicURL: cfg.PublicURL,
		Billing:   cfg.Billing,
		Cluster:   cfg.Cluster.clusterConfig(log), // nil: one node
		SFU: sfu.Config{
			ListenIP:        cfg.MediaIP,
			UDPPort:         cfg.UDPPort,
			PublicIP:        cfg.PublicIP,
			IncludeLoopback: cfg.Dev,
		},
	})
	if errors.Is(err, server.ErrConfig) {
		fmt.Fprintf(stderr, "meet: %v\n", err)
		return 2
	}
	if err != nil {
		fmt.Fprintf(stderr, "meet: %v\n", err)
		return 1
	}
	addr, err := srv.Start(cfg.Listen)
	if err != nil {
		fmt.Fprintf(stderr, "meet: %v\n", err)
		_ = srv.Shutdown(context.Background())
		return 1
	}
	log.Info("meet is running", "http", addr.String(), "media_udp", srv.MediaAddr().String())
	<-ctx.Done()
	log.Info("shutting down; send the signal again to exit at once", "timeout", cfg.ShutdownTimeout)
	sctx, cancel := context.WithTimeout(context.Background(), cfg.ShutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		log.Error("shutdown", "err", err)
		return 1
	}
	log.Info("stopped")
	return 0
}
