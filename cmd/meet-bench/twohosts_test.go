package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/monkeythorn/meet/bench"
	"github.com/monkeythorn/meet/bench/twohosts"
)

// TestTwoHosts runs meet-bench load --two-hosts end to end: the real meet
// binary on the server host, this command (the test binary) as the
// generator on the other, media over the veth pair, the server's CPU and
// forward delay read across the namespaces, nothing left behind.
func TestTwoHosts(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs meet; runs without -short")
	}
	if p, err := twohosts.New(context.Background()); errors.Is(err, twohosts.ErrUnavailable) {
		t.Skipf("this machine cannot be split: %v", err)
	} else if err != nil {
		t.Fatal(err)
	} else {
		p.Close()
	}
	bin := buildMeetBinary(t)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	var stdout, stderr bytes.Buffer
	code := run(ctx, []string{"load", "--two-hosts", "--meet-bin", bin,
		"--publishers", "1", "--subscribers", "2", "--video", "500k", "--duration", "2s", "--warmup", "1s", "--no-ceiling", "--json"}, &stdout, &stderr)
	if code != 0 {
		t.Fatalf("exit %d\n%s", code, stderr.String())
	}
	var res bench.Result
	if err := json.Unmarshal(stdout.Bytes(), &res); err != nil {
		t.Fatalf("stdout is not one JSON result: %v\n%s", err, stdout.String())
	}
	if !res.Scenario.TwoHosts || res.SubscriberTracks != 2 || res.ForwardedPacketsPerS <= 0 || res.LatencyFrames == 0 {
		t.Errorf("result: %+v", res)
	}
	if res.ServerCPUSource != "proc" || !res.ServerCPUCores.Known() || !res.ServerForwardDelayP99Ms.Known() {
		t.Errorf("server CPU %v from %q, forward delay p99 %v: the server was not read across the namespaces",
			res.ServerCPUCores, res.ServerCPUSource, res.ServerForwardDelayP99Ms)
	}
	if !strings.Contains(stderr.String(), "two hosts: server 10.77.0.1") || !strings.Contains(strings.Join(res.Notes, " "), "two hosts") {
		t.Errorf("placement not said: notes %q\n%s", res.Notes, stderr.String())
	}
	out, err := exec.Command("ip", "netns", "list").Output()
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(out), "\n") {
		if f := strings.Fields(line); len(f) > 0 && strings.HasSuffix(f[0], fmt.Sprintf("-%d", os.Getpid())) && strings.HasPrefix(f[0], "meet-bench-") {
			t.Errorf("namespace %s left behind", f[0])
		}
	}
}

// TestGeneratorArgs: the generator gets the user's flags but not those
// about starting the server, and where the server is.
func TestGeneratorArgs(t *testing.T) {
	f, err := parseLoadFlags([]string{"--two-hosts", "--meet-bin", "/x/meet", "--server-args", "--a=1 --b=2", "--subscribers", "30", "--receive-gro"}, os.Stderr)
	if err != nil {
		t.Fatal(err)
	}
	got := strings.Join(generatorArgs(f, &childServer{url: "http://10.77.0.1:8080", metricsURL: "http://10.77.0.1:9090/metrics", pid: 42}), " ")
	want := "load --receive-gro=true --subscribers=30 --url http://10.77.0.1:8080 --server-pid 42 --metrics-url http://10.77.0.1:9090/metrics --wait-ready 30s --two-hosts-generator"
	if got != want {
		t.Errorf("generator args\n got %s\nwant %s", got, want)
	}
}
