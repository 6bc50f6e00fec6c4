package main

import (
	"bytes"
	"context"
	"encoding/json"
	"github.com/monkeythorn/meet/internal/leaktest"
	"io"
	"log/slog"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/monkeythorn/meet/bench"
	"github.com/monkeythorn/meet/server"
	"github.com/monkeythorn/meet/sfu"
)

// The test binary stands in for meet-bench when the command re-executes
// itself (the ceiling's child process and its sink, the generator of
// --two-hosts).
func TestMain(m *testing.M) {
	if len(os.Args) > 1 && (os.Args[1] == sinkCommand || os.Args[1] == "ceiling" || os.Args[1] == "load") {
		os.Exit(run(context.Background(), os.Args[1:], os.Stdout, os.Stderr))
	}
	os.Exit(m.Run())
}

// TestLoadCommand is the end-to-end smoke test: meet-bench load with one
// publisher and two subscribers for 3 s against the real server package,
// JSON out, including the ceiling in its own process.
func TestLoadCommand(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end; runs without -short")
	}
	leaktest.Check(t)
	srv, err := server.New(server.Config{Logger: slog.New(slog.DiscardHandler), Secret: bytes.Repeat([]byte("s"), 48),
		SFU: sfu.Config{ListenIP: "127.0.0.1", IncludeLoopback: true}})
	if err != nil {
		t.Fatal(err)
	}
	addr, err := srv.Start("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 40*time.Second)
	defer cancel()
	var stdout, stderr bytes.Buffer
	code := run(ctx, []string{"load", "--url", "http://" + addr.String(), "--publishers", "1", "--subscribers", "2",
		"--video", "800k", "--duration", "3s", "--warmup", "1s", "--server-pid", "0", "--json"}, &stdout, &stderr)
	sctx, scancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer scancel()
	srv.Shutdown(sctx)
	if code != 0 {
		t.Fatalf("exit %d\n%s", code, stderr.String())
	}
	var res bench.Result
	if err := json.Unmarshal(stdout.Bytes(), &res); err != nil {
		t.Fatalf("stdout is not one JSON result: %v\n%s", err, stdout.String())
	}
	if res.SubscriberTracks != 2 || res.ForwardedPacketsPerS <= 0 || res.LatencyFrames == 0 {
		t.Errorf("result: %+v", res)
	}
	if !res.CeilingPacketsPerCoreS.Known() || res.CeilingPacketsPerCoreS <= 0 {
		t.Errorf("ceiling not measured: %v (notes %v)", res.CeilingPacketsPerCoreS, res.Notes)
	}
	// Without a pid or metrics URL the server's CPU is unknown, not 0.
	if res.ServerCPUSource != "none" || res.ServerCPUCores.Known() || res.CeilingRatio.Known() {
		t.Errorf("server CPU %v from %q, ratio %v", res.ServerCPUCores, res.ServerCPUSource, res.CeilingRatio)
	}
	if !strings.Contains(stderr.String(), "forwarded") || !strings.Contains(stderr.String(), "fwd") {
		t.Errorf("no table or progress on stderr:\n%s", stderr.String())
	}
}

func TestCommandErrors(t *testing.T) {
	tests := []struct {
		args []string
		code int
		msg  string
	}{
		{nil, 2, "Usage"},
		{[]string{"fly"}, 2, "unknown command"},
		{[]string{"load", "--video", "fast"}, 2, "--video"},
		{[]string{"load", "--sweep", "subscribers=5,1"}, 2, "--sweep"},
		{[]string{"ceiling", "--rate", "-5"}, 2, "--rate"},
		{[]string{"load", "--url", "ftp://x"}, 1, "must be http"},
		{[]string{"load", "--nack", "--direct-receive"}, 2, "--nack needs Pion's receive chain"},
		{[]string{"load", "--two-hosts", "--url", "http://127.0.0.1:1"}, 2, "--two-hosts starts its own server"},
	}
	for _, tt := range tests {
		var out, errb bytes.Buffer
		code := run(context.Background(), tt.args, &out, &errb)
		if code != tt.code || !strings.Contains(errb.String(), tt.msg) {
			t.Errorf("%v: exit %d, stderr %q; want %d and %q", tt.args, code, errb.String(), tt.code, tt.msg)
		}
	}
}

func TestLineWriter(t *testing.T) {
	var b bytes.Buffer
	w := lineWriter{&b}
	w.Write([]byte("\r  1s/5s fwd 10   "))
	w.Write([]byte("\r  2s/5s fwd 20   "))
	w.Write([]byte("\n"))
	if got := b.String(); got != "  1s/5s fwd 10\n  2s/5s fwd 20\n" {
		t.Errorf("got %q", got)
	}
}

// TestDirectReceiveDefault: subscribers read media directly unless NACKs
// are asked for, which need Pion's receive chain.
func TestDirectReceiveDefault(t *testing.T) {
	tests := []struct {
		args   []string
		direct bool
	}{
		{nil, true},
		{[]string{"--direct-receive=false"}, false},
		{[]string{"--nack"}, false},
		{[]string{"--nack", "--direct-receive=false"}, false},
	}
	for _, tt := range tests {
		f, err := parseLoadFlags(tt.args, io.Discard)
		if err != nil || f.direct != tt.direct {
			t.Errorf("%v: direct %v, err %v; want %v", tt.args, f != nil && f.direct, err, tt.direct)
		}
	}
}
