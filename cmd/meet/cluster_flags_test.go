package main

import (
	"context"
	"github.com/monkeythorn/meet/internal/leaktest"
	"github.com/monkeythorn/meet/internal/logbuf"
	"strings"
	"testing"
	"time"

	"github.com/monkeythorn/meet/cluster/clustertest"
)

func TestClusterFlags(t *testing.T) {
	tests := []struct {
		name    string
		args    []string
		env     func(string) string
		want    clusterFlags
		wantErr string
	}{
		{"off by default", nil, env("MEET_SECRET", secret32), clusterFlags{}, ""},
		{"flags", []string{"--redis", "redis://:pw@10.0.0.5:6379/0", "--node-url", "https://node1.example.com", "--node-id", "node1", "--redis-fallback-local"},
			env("MEET_SECRET", secret32), clusterFlags{RedisURL: "redis://:pw@10.0.0.5:6379/0", NodeURL: "https://node1.example.com", NodeID: "node1", FallbackLocal: true}, ""},
		{"env", nil, env("MEET_SECRET", secret32, "MEET_REDIS_URL", "rediss://r:6380", "MEET_NODE_URL", "http://10.0.0.7:8080", "MEET_REDIS_FALLBACK_LOCAL", "true"),
			clusterFlags{RedisURL: "rediss://r:6380", NodeURL: "http://10.0.0.7:8080", FallbackLocal: true}, ""},
		{"node url required", []string{"--redis", "redis://r:6379"}, env("MEET_SECRET", secret32), clusterFlags{}, "needs --node-url"},
		{"node url absolute", []string{"--redis", "redis://r:6379", "--node-url", "node1:8080"}, env("MEET_SECRET", secret32), clusterFlags{}, "--node-url"},
		{"redis URL scheme, password not echoed", []string{"--redis", "http://u:hunter2@r:6379", "--node-url", "https://n"}, env("MEET_SECRET", secret32), clusterFlags{}, "--redis: want redis://"},
		{"node flags need redis", []string{"--node-id", "n1"}, env("MEET_SECRET", secret32), clusterFlags{}, "need --redis"},
		{"fallback needs redis", []string{"--redis-fallback-local"}, env("MEET_SECRET", secret32), clusterFlags{}, "need --redis"},
		{"not with dev", []string{"--dev", "--redis", "redis://r:6379", "--node-url", "https://n"}, env(), clusterFlags{}, "cannot be used with --dev"},
		{"dev with a shared secret", []string{"--dev", "--redis", "redis://r:6379", "--node-url", "https://n"}, env("MEET_SECRET", secret32),
			clusterFlags{RedisURL: "redis://r:6379", NodeURL: "https://n"}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := parseConfig(tt.args, tt.env, nil)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) || strings.Contains(err.Error(), "hunter2") {
					t.Fatalf("err %v, want one containing %q (and no password)", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if c.Cluster != tt.want {
				t.Errorf("got %+v, want %+v", c.Cluster, tt.want)
			}
		})
	}
}

// TestRunClusterNodes starts two nodes on one Redis through run, as two
// processes would; a third with another secret is refused with exit 2 and
// the cluster's message.
func TestRunClusterNodes(t *testing.T) {
	leaktest.Check(t)
	rds := clustertest.StartRedis(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	start := func(id, secret string) (chan int, *logbuf.Buffer) {
		var stderr logbuf.Buffer
		done := make(chan int, 1)
		args := []string{"--listen", "127.0.0.1:0", "--udp-port", "0", "--media-ip", "127.0.0.1",
			"--redis", rds.URL(), "--node-url", "http://" + id + ".test:8080", "--node-id", id}
		args = append(args, noFixedPorts...) // ops_test.go
		go func() { done <- run(ctx, args, env("MEET_SECRET", secret), &logbuf.Buffer{}, &stderr) }()
		return done, &stderr
	}
	waitRunning := func(stderr *logbuf.Buffer, done chan int) {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for !strings.Contains(stderr.String(), "meet is running") {
			select {
			case code := <-done:
				t.Fatalf("exited %d:\n%s", code, stderr.String())
			default:
			}
			if time.Now().After(deadline) {
				t.Fatalf("not running after 10 s:\n%s", stderr.String())
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	d1, e1 := start("n1", secret32)
	waitRunning(e1, d1)
	d2, e2 := start("n2", secret32)
	waitRunning(e2, d2)

	d3, e3 := start("n3", strings.Repeat("x", len(secret32)))
	select {
	case code := <-d3:
		if code != 2 || !strings.Contains(e3.String(), "token secret differs") {
			t.Errorf("node with another secret: exit %d:\n%s", code, e3.String())
		}
	case <-time.After(10 * time.Second):
		t.Fatal("node with another secret still running after 10 s")
	}
	if strings.Contains(e1.String()+e2.String()+e3.String(), rds.URL()) {
		t.Error("the Redis URL was logged")
	}
	cancel()
	for _, d := range []chan int{d1, d2} {
		select {
		case code := <-d:
			if code != 0 {
				t.Errorf("exit %d", code)
			}
		case <-time.After(15 * time.Second):
			t.Fatal("no exit 15 s after the shutdown signal")
		}
	}
}
