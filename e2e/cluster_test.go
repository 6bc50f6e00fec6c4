package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/monkeythorn/meet/auth"
	"github.com/monkeythorn/meet/cluster"
	"github.com/monkeythorn/meet/cluster/clustertest"
	"github.com/monkeythorn/meet/server"
	"github.com/monkeythorn/meet/sfu"
	"github.com/monkeythorn/meet/signaling"
)

var clusterSecret = []byte("e2e-cluster-secret-e2e-cluster-secret-e2e-cluster")

// startNode runs one cluster node on 127.0.0.1 and returns its base URL.
func startNode(t *testing.T, rds *clustertest.Redis, id string) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	base := "http://" + ln.Addr().String()
	s, err := server.New(server.Config{
		Logger: slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})),
		Secret: clusterSecret,
		SFU:    sfu.Config{ListenIP: "127.0.0.1", IncludeLoopback: true},
		Cluster: &cluster.Config{RedisURL: rds.URL(), NodeID: id, PublicURL: base,
			TTL: 1500 * time.Millisecond, Refresh: 250 * time.Millisecond},
	})
	if err != nil {
		ln.Close()
		t.Fatal(err)
	}
	go func() { _ = s.Serve(ln) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = s.Shutdown(ctx)
	})
	return base
}

// meetBench finds the meet-bench binary: on PATH (make test puts bin/ there),
// in ../bin, or built into a temporary folder.
func meetBench(t *testing.T) string {
	t.Helper()
	if p, err := exec.LookPath("meet-bench"); err == nil {
		return p
	}
	if p, err := filepath.Abs("../bin/meet-bench"); err == nil {
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	p := filepath.Join(t.TempDir(), "meet-bench")
	if out, err := exec.Command("go", "build", "-o", p, "../cmd/meet-bench").CombinedOutput(); err != nil {
		t.Fatalf("building meet-bench: %v\n%s", err, out)
	}
	return p
}

// TestMeetBenchAgainstCluster: `meet-bench load --url` pointed at one node
// of a two-node cluster works unchanged. That node is busier, so the room
// is placed on the other one: the token answer names it and the clients go
// there directly.
func TestMeetBenchAgainstCluster(t *testing.T) {
	bin := meetBench(t)
	rds := clustertest.StartRedis(t)
	bases := map[string]string{"a": startNode(t, rds, "a"), "b": startNode(t, rds, "b")}

	// One participant makes its node the busier one; the bench then asks
	// that node, and its room belongs on the other.
	issuer, err := auth.NewIssuer(auth.IssuerConfig{Secret: clusterSecret})
	if err != nil {
		t.Fatal(err)
	}
	code, _ := auth.NewRoomCode()
	tok, _, err := issuer.Issue(auth.TokenRequest{Room: code, E2EE: true, Grants: auth.Grants{Subscribe: true}})
	if err != nil {
		t.Fatal(err)
	}
	wsURL := "ws" + bases["a"][len("http"):] + "/ws"
	var w signaling.Welcome
	for hop := 0; w.Type != signaling.TypeWelcome; hop++ {
		ws, _, err := websocket.DefaultDialer.Dial(wsURL, nil)
		if err != nil || hop > 1 {
			t.Fatalf("busy participant: %v after %d redirects", err, hop)
		}
		defer ws.Close()
		_ = ws.WriteJSON(signaling.Join{Type: signaling.TypeJoin, Version: signaling.Version, Token: tok})
		_ = ws.SetReadDeadline(time.Now().Add(5 * time.Second))
		_, data, err := ws.ReadMessage()
		if err != nil {
			t.Fatal(err)
		}
		var r signaling.Redirect
		if json.Unmarshal(data, &r) == nil && r.Type == signaling.TypeRedirect {
			wsURL = r.URL
			continue
		}
		if err := json.Unmarshal(data, &w); err != nil || w.Type != signaling.TypeWelcome {
			t.Fatalf("busy participant: %s", data)
		}
	}
	busy, idle := "a", "b"
	if "ws"+bases["b"][len("http"):]+"/ws" == wsURL {
		busy, idle = "b", "a"
	}
	a := bases[busy]
	time.Sleep(600 * time.Millisecond) // two heartbeats publish a's load

	// Watch where the bench's room is placed while it runs.
	rdb := rds.Client()
	owners := map[string]bool{}
	stop := make(chan struct{})
	watched := make(chan struct{})
	go func() {
		defer close(watched)
		for {
			select {
			case <-stop:
				return
			case <-time.After(100 * time.Millisecond):
			}
			keys, _ := rdb.Keys(context.Background(), "meet:room:*").Result()
			for _, k := range keys {
				owners[rdb.Get(context.Background(), k).Val()] = true
			}
		}
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "load", "--url", a, "--publishers", "1", "--subscribers", "2",
		"--video", "500k", "--duration", "3s", "--warmup", "1s", "--no-ceiling", "--json")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err = cmd.Run()
	close(stop)
	<-watched
	if err != nil {
		t.Fatalf("meet-bench: %v\n%s", err, stderr.String())
	}
	var res struct {
		SubscriberTracks     int     `json:"subscriber_tracks"`
		ForwardedPacketsPerS float64 `json:"forwarded_packets_per_s"`
		SetupS               float64 `json:"setup_s"`
	}
	if err := json.Unmarshal(stdout.Bytes(), &res); err != nil {
		t.Fatalf("meet-bench output: %v\n%s", err, stdout.String())
	}
	if res.SubscriberTracks != 2 || res.ForwardedPacketsPerS <= 0 {
		t.Errorf("meet-bench result: %+v\n%s", res, stderr.String())
	}
	if !owners[idle] {
		t.Errorf("the bench's room was not placed on the idle node %s: owners seen %v", idle, owners)
	}
	t.Logf("meet-bench via the busy node, room on the idle one: %d subscriber tracks, %.0f packets/s forwarded, set-up %.2f s", res.SubscriberTracks, res.ForwardedPacketsPerS, res.SetupS)
}
