package cluster

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"
)

var testSecret = []byte("0123456789abcdef0123456789abcdef-cluster-test")

// Short timings keep the failure tests quick; the ratio TTL/Refresh is the
// production one.
const (
	testTTL     = 1500 * time.Millisecond
	testRefresh = 250 * time.Millisecond
)

// testNode is one Cluster with its Run loop and an adjustable load.
type testNode struct {
	*Cluster
	t      *testing.T
	cancel context.CancelFunc
	done   chan struct{}

	mu   sync.Mutex
	load Load
	lost []string
}

func nodeURL(id string) string { return fmt.Sprintf("http://127.0.0.1:1/%s", id) }

func newTestNode(t *testing.T, srv *redisServer, id string, edit func(*Config)) *testNode {
	t.Helper()
	n := &testNode{t: t, done: make(chan struct{})}
	cfg := Config{
		RedisURL:  srv.url(),
		Secret:    testSecret,
		NodeID:    id,
		PublicURL: nodeURL(id),
		TTL:       testTTL,
		Refresh:   testRefresh,
		Load:      n.getLoad,
		Lost: func(room string) {
			n.mu.Lock()
			n.lost = append(n.lost, room)
			n.mu.Unlock()
		},
	}
	if edit != nil {
		edit(&cfg)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, err := New(ctx, cfg)
	if err != nil {
		t.Fatalf("New(%s): %v", id, err)
	}
	n.Cluster = c
	runCtx, stop := context.WithCancel(context.Background())
	n.cancel = stop
	go func() {
		defer close(n.done)
		_ = c.Run(runCtx)
	}()
	t.Cleanup(n.stop)
	return n
}

func (n *testNode) getLoad() Load {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.load
}

func (n *testNode) lostRooms() []string {
	n.mu.Lock()
	defer n.mu.Unlock()
	return append([]string(nil), n.lost...)
}

// setLoad changes the reported load and publishes it at once.
func (n *testNode) setLoad(participants int, cpu float64) {
	n.t.Helper()
	n.mu.Lock()
	n.load = Load{Participants: participants, CPU: cpu}
	n.mu.Unlock()
	n.beatNow()
}

func (n *testNode) beatNow() {
	n.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if err := n.beat(ctx); err != nil {
		n.t.Fatalf("heartbeat of %s: %v", n.NodeID(), err)
	}
}

// stop ends Run and closes the node cleanly (deregistering it).
func (n *testNode) stop() {
	if n.cancel == nil {
		return
	}
	n.cancel()
	<-n.done
	n.cancel = nil
	if err := n.Close(); err != nil {
		n.t.Errorf("Close(%s): %v", n.NodeID(), err)
	}
}

// crash ends Run and drops the connection without deregistering, as a
// killed process would.
func (n *testNode) crash() {
	n.cancel()
	<-n.done
	n.cancel = nil
	n.mu.Lock()
	n.Cluster.mu.Lock()
	n.Cluster.closed = true
	n.Cluster.mu.Unlock()
	n.mu.Unlock()
	_ = n.rdb.Close()
}

func place(t *testing.T, n *testNode, room string) Placement {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	p, err := n.Place(ctx, room)
	if err != nil {
		t.Fatalf("Place(%s) on %s: %v", room, n.NodeID(), err)
	}
	return p
}
