package cluster

import (
	"context"
	"errors"
	"fmt"
	"github.com/monkeythorn/meet/internal/leaktest"
	"github.com/monkeythorn/meet/internal/poll"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/monkeythorn/meet/auth"
)

func owner(t *testing.T, rdb *redis.Client, room string) string {
	t.Helper()
	v, err := rdb.Get(context.Background(), roomKey(testSecret, room)).Result()
	if errors.Is(err, redis.Nil) {
		return ""
	}
	if err != nil {
		t.Fatalf("read room record: %v", err)
	}
	return v
}

func TestPlaceConcurrentOneOwner(t *testing.T) {
	leaktest.Check(t)
	srv := startRedis(t)
	rdb := srv.client()
	// Equal loads: each node's selector prefers itself, so every node
	// tries to claim every room for itself and only atomicity decides.
	nodes := []*testNode{newTestNode(t, srv, "a", nil), newTestNode(t, srv, "b", nil), newTestNode(t, srv, "c", nil)}
	const rooms, perNode = 12, 3
	winners := map[string]int{}
	for r := range rooms {
		room := fmt.Sprintf("room-%02d", r)
		type result struct {
			node string
			p    Placement
			err  error
		}
		results := make(chan result, len(nodes)*perNode)
		start := make(chan struct{})
		var wg sync.WaitGroup
		for _, n := range nodes {
			for range perNode {
				wg.Add(1)
				go func() {
					defer wg.Done()
					ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
					defer cancel()
					<-start
					p, err := n.Place(ctx, room)
					results <- result{n.NodeID(), p, err}
				}()
			}
		}
		close(start)
		wg.Wait()
		close(results)
		want := owner(t, rdb, room)
		if want == "" {
			t.Fatalf("%s: no record after placement", room)
		}
		winners[want]++
		for res := range results {
			if res.err != nil {
				t.Fatalf("%s: Place on %s: %v", room, res.node, res.err)
			}
			if res.p.NodeID != want || res.p.URL != nodeURL(want) || res.p.Local != (res.node == want) {
				t.Errorf("%s: node %s got %+v; the record says %s", room, res.node, res.p, want)
			}
		}
	}
	t.Logf("rooms won per node: %v", winners)
}

func TestPlaceLeastLoaded(t *testing.T) {
	leaktest.Check(t)
	srv := startRedis(t)
	a, b, c := newTestNode(t, srv, "a", nil), newTestNode(t, srv, "b", nil), newTestNode(t, srv, "c", nil)
	a.setLoad(10, 0.5)
	b.setLoad(2, 0.9)
	c.setLoad(5, 0.1)
	for i, n := range []*testNode{a, c, b} {
		p := place(t, n, fmt.Sprintf("first-%d", i))
		if p.NodeID != "b" || p.Local != (n == b) {
			t.Errorf("Place from %s = %+v; want b (2 participants)", n.NodeID(), p)
		}
	}
	b.setLoad(20, 0.1)
	if p := place(t, a, "second"); p.NodeID != "c" || p.URL != nodeURL("c") {
		t.Errorf("after b got busy: Place = %+v; want c", p)
	}
	// The placed room stays where it is when loads change.
	c.setLoad(50, 1)
	if p := place(t, a, "second"); p.NodeID != "c" {
		t.Errorf("placed room moved to %s", p.NodeID)
	}
}

func TestNodeFailureMovesRooms(t *testing.T) {
	leaktest.Check(t)
	srv := startRedis(t)
	rdb := srv.client()
	a, b, c := newTestNode(t, srv, "a", nil), newTestNode(t, srv, "b", nil), newTestNode(t, srv, "c", nil)
	a.setLoad(5, 0)
	c.setLoad(5, 0)
	if p := place(t, b, "doomed"); !p.Local {
		t.Fatalf("Place on the idle node b = %+v; want local", p)
	}
	b.RoomOpened("doomed")
	if p := place(t, a, "doomed"); p.NodeID != "b" {
		t.Fatalf("before the crash: Place from a = %+v; want redirect to b", p)
	}

	// Wait out several heartbeats: a hosted room's record must outlive its
	// claim's TTL.
	time.Sleep(testTTL + 2*testRefresh)
	if owner(t, rdb, "doomed") != "b" {
		t.Fatal("b's hosted room record expired while b was alive")
	}

	b.crash()
	took := poll.Until(t, testTTL+time.Second, "the dead node's room record to expire", func() bool {
		return owner(t, rdb, "doomed") == ""
	})
	t.Logf("room record expired %v after the crash (TTL %v)", took, testTTL)
	if n, err := rdb.Exists(context.Background(), nodeKey("b")).Result(); err != nil || n != 0 {
		t.Errorf("dead node record still there: %d, %v", n, err)
	}
	p := place(t, c, "doomed")
	if p.NodeID != "a" && p.NodeID != "c" {
		t.Fatalf("after the crash: Place = %+v; want a live node", p)
	}
	if got := owner(t, rdb, "doomed"); got != p.NodeID {
		t.Errorf("record says %q, placement %q", got, p.NodeID)
	}
	if ids, _ := rdb.SMembers(context.Background(), keyNodes).Result(); strings.Contains(strings.Join(ids, ","), "b") {
		t.Errorf("dead node still listed in %s: %v", keyNodes, ids)
	}
}

// A record naming a node whose own record is gone is freed at once, without
// waiting for the room record's TTL.
func TestPlaceReclaimsRoomOfVanishedNode(t *testing.T) {
	leaktest.Check(t)
	srv := startRedis(t)
	rdb := srv.client()
	a := newTestNode(t, srv, "a", nil)
	if err := rdb.Set(context.Background(), roomKey(testSecret, "orphan"), "ghost", time.Minute).Err(); err != nil {
		t.Fatal(err)
	}
	if p := place(t, a, "orphan"); !p.Local {
		t.Fatalf("Place = %+v; want local", p)
	}
	if got := owner(t, rdb, "orphan"); got != "a" {
		t.Errorf("record names %q; want a", got)
	}
}

func TestDrainingNodeTakesNoNewRooms(t *testing.T) {
	leaktest.Check(t)
	srv := startRedis(t)
	a, b, c := newTestNode(t, srv, "a", nil), newTestNode(t, srv, "b", nil), newTestNode(t, srv, "c", nil)
	b.setLoad(5, 0)
	c.setLoad(6, 0)
	if p := place(t, a, "before"); !p.Local {
		t.Fatalf("idle a did not take the room: %+v", p)
	}
	a.RoomOpened("before")

	a.SetDraining(true)
	a.beatNow()
	if p := place(t, a, "fresh-on-a"); p.NodeID != "b" {
		t.Errorf("draining a placed a new room on %+v; want b", p)
	}
	for i, n := range []*testNode{b, c, b, c} {
		if p := place(t, n, fmt.Sprintf("new-%d", i)); p.NodeID == "a" {
			t.Errorf("new room placed on draining node a from %s", n.NodeID())
		}
	}
	// Its own room stays on it until it empties.
	if p := place(t, a, "before"); !p.Local {
		t.Errorf("draining a gave up its hosted room: %+v", p)
	}
	if p := place(t, c, "before"); p.NodeID != "a" {
		t.Errorf("room hosted on draining a: Place from c = %+v; want a", p)
	}

	b.SetDraining(true)
	c.SetDraining(true)
	b.beatNow()
	c.beatNow()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if _, err := b.Place(ctx, "nowhere"); !errors.Is(err, ErrNoNodes) {
		t.Errorf("all draining: Place error %v; want ErrNoNodes", err)
	}
	a.SetDraining(false)
	a.beatNow()
	if p := place(t, b, "nowhere"); p.NodeID != "a" {
		t.Errorf("after a stopped draining: Place = %+v; want a", p)
	}
}

// A node's own draining flag counts at once, before a heartbeat publishes it.
func TestDrainingAppliesBeforeHeartbeat(t *testing.T) {
	leaktest.Check(t)
	srv := startRedis(t)
	slow := func(c *Config) { c.TTL, c.Refresh = 20*time.Second, 5*time.Second }
	a := newTestNode(t, srv, "a", slow)
	b := newTestNode(t, srv, "b", slow)
	b.setLoad(5, 0)
	// Set the flag without SetDraining's early heartbeat, so a's record in
	// Redis still says it takes rooms.
	a.Cluster.mu.Lock()
	a.draining = true
	a.Cluster.mu.Unlock()
	if p := place(t, a, "fresh"); p.NodeID != "b" {
		t.Errorf("draining a placed a new room on %+v; want b", p)
	}
}

func TestRoomClosedDeletesRecord(t *testing.T) {
	leaktest.Check(t)
	srv := startRedis(t)
	rdb := srv.client()
	// A long TTL so that deletion cannot be mistaken for expiry.
	long := func(c *Config) { c.TTL = 20 * time.Second }
	a := newTestNode(t, srv, "a", long)
	b := newTestNode(t, srv, "b", long)
	b.setLoad(9, 0)
	place(t, a, "brief")
	a.RoomOpened("brief")
	a.RoomClosed("brief")
	poll.Until(t, 5*time.Second, "the closed room's record to be deleted", func() bool { return owner(t, rdb, "brief") == "" })

	// Closing a room that another node now owns must not delete its record.
	place(t, a, "shared")
	a.RoomOpened("shared")
	if err := rdb.Set(context.Background(), roomKey(testSecret, "shared"), "b", time.Minute).Err(); err != nil {
		t.Fatal(err)
	}
	a.RoomClosed("shared")
	a.beatNow()
	if got := owner(t, rdb, "shared"); got != "b" {
		t.Errorf("a deleted b's record: owner now %q", got)
	}

	// Close removes the node and its rooms.
	place(t, a, "last")
	a.RoomOpened("last")
	a.stop()
	if got := owner(t, rdb, "last"); got != "" {
		t.Errorf("after Close the room record still names %q", got)
	}
	if n, _ := rdb.Exists(context.Background(), nodeKey("a")).Result(); n != 0 {
		t.Error("after Close the node record is still there")
	}
	if err := a.Ready(); !errors.Is(err, ErrClosed) {
		t.Errorf("Ready after Close = %v; want ErrClosed", err)
	}
}

func TestSecretMismatchRefused(t *testing.T) {
	leaktest.Check(t)
	srv := startRedis(t)
	newTestNode(t, srv, "a", nil)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	other := []byte(strings.Repeat("z", 40))
	_, err := New(ctx, Config{RedisURL: srv.url(), Secret: other, NodeID: "b", PublicURL: nodeURL("b"), TTL: testTTL, Refresh: testRefresh})
	if !errors.Is(err, ErrSecretMismatch) || !strings.Contains(err.Error(), "same token secret") {
		t.Fatalf("New with another secret: %v; want ErrSecretMismatch telling what to do", err)
	}
	if strings.Contains(err.Error(), string(other)) || strings.Contains(err.Error(), string(testSecret)) {
		t.Errorf("error %q reveals a secret", err)
	}
	// The same secret is accepted; a live node's id with another URL is not.
	b := newTestNode(t, srv, "b", nil)
	_, err = New(ctx, Config{RedisURL: srv.url(), Secret: testSecret, NodeID: "a", PublicURL: "http://127.0.0.1:2", TTL: testTTL, Refresh: testRefresh})
	if !errors.Is(err, ErrConfig) || !strings.Contains(err.Error(), "in use") {
		t.Errorf("New with a live node's id: %v; want ErrConfig", err)
	}

	// A foreign fingerprint appearing later (a wrong-secret node got in
	// first after Redis lost everything) stops new rooms, not hosted ones.
	place(t, b, "hosted")
	b.RoomOpened("hosted")
	if err := srv.client().Set(ctx, keySecret, "0000", time.Minute).Err(); err != nil {
		t.Fatal(err)
	}
	poll.Until(t, 3*time.Second, "Ready to report the mismatch", func() bool { return errors.Is(b.Ready(), ErrSecretMismatch) })
	if _, err := b.Place(ctx, "another"); !errors.Is(err, ErrSecretMismatch) {
		t.Errorf("new room after a mismatch: %v; want ErrSecretMismatch", err)
	}
	if p, err := b.Place(ctx, "hosted"); err != nil || !p.Local {
		t.Errorf("hosted room after a mismatch: %+v, %v; want local", p, err)
	}
}

func TestRedisOutage(t *testing.T) {
	leaktest.Check(t)
	srv := startRedis(t)
	rdb := srv.client()
	fallback := func(c *Config) { c.FallbackLocal = true }
	a := newTestNode(t, srv, "a", nil)
	f := newTestNode(t, srv, "f", fallback)
	g := newTestNode(t, srv, "g", fallback)
	f.setLoad(3, 0)
	g.setLoad(3, 0)
	if p := place(t, a, "kept"); !p.Local {
		t.Fatalf("Place = %+v; want local on idle a", p)
	}
	a.RoomOpened("kept")

	srv.stop()
	poll.Until(t, 5*time.Second, "Ready to report the outage", func() bool { return errors.Is(a.Ready(), ErrUnavailable) })
	t.Logf("Ready during the outage: %v", a.Ready())

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if p, err := a.Place(ctx, "kept"); err != nil || !p.Local {
		t.Errorf("hosted room during the outage: %+v, %v; want local", p, err)
	}
	if _, err := a.Place(ctx, "new"); !errors.Is(err, ErrUnavailable) {
		t.Errorf("new room during the outage: %v; want ErrUnavailable", err)
	}
	// Both fallback nodes serve the same new room: a split that must be
	// resolved when Redis returns.
	for _, n := range []*testNode{f, g} {
		if p, err := n.Place(ctx, "split"); err != nil || !p.Local {
			t.Fatalf("fallback node %s: Place = %+v, %v; want local", n.NodeID(), p, err)
		}
		n.RoomOpened("split")
		if err := n.Ready(); !errors.Is(err, ErrUnavailable) {
			t.Errorf("fallback node %s Ready = %v; want ErrUnavailable", n.NodeID(), err)
		}
	}

	time.Sleep(testTTL) // longer than the TTL: nothing survives on the Redis side anyway
	srv.start()         // same port, empty
	for _, n := range []*testNode{a, f, g} {
		took := poll.Until(t, 8*time.Second, n.NodeID()+" to be ready again", func() bool { return n.Ready() == nil })
		t.Logf("%s ready %v after Redis returned", n.NodeID(), took)
	}
	poll.Until(t, 3*time.Second, "the kept room to be re-registered", func() bool { return owner(t, rdb, "kept") == "a" })
	winner := owner(t, rdb, "split")
	if winner != "f" && winner != "g" {
		t.Fatalf("split room registered to %q; want f or g", winner)
	}
	loser := map[string]*testNode{"f": g, "g": f}[winner]
	poll.Until(t, 3*time.Second, "the losing node to be told", func() bool { return len(loser.lostRooms()) > 0 })
	if got := loser.lostRooms(); len(got) != 1 || got[0] != "split" {
		t.Errorf("%s Lost calls: %v; want [split]", loser.NodeID(), got)
	}
	winnerNode := map[string]*testNode{"f": f, "g": g}[winner]
	if got := winnerNode.lostRooms(); len(got) != 0 {
		t.Errorf("winner %s was told it lost %v", winner, got)
	}
	if p := place(t, loser, "split"); p.Local || p.NodeID != winner {
		t.Errorf("loser's Place after the conflict = %+v; want redirect to %s", p, winner)
	}
	if p := place(t, a, "new"); p.NodeID == "" {
		t.Errorf("new room after recovery: %+v", p)
	}
}

// Everything in Redis expires, and no room code appears in clear in any key
// or value.
func TestRedisHoldsNothingPersistentOrPlain(t *testing.T) {
	leaktest.Check(t)
	srv := startRedis(t)
	rdb := srv.client()
	nodes := []*testNode{newTestNode(t, srv, "a", nil), newTestNode(t, srv, "b", nil), newTestNode(t, srv, "c", nil)}
	var rooms []string
	for i := range 30 {
		code, err := auth.NewRoomCode()
		if err != nil {
			t.Fatal(err)
		}
		room := code.String()
		rooms = append(rooms, room)
		p := place(t, nodes[i%3], room)
		for _, n := range nodes {
			if n.NodeID() == p.NodeID && i%5 != 0 {
				n.RoomOpened(room)
			}
		}
	}
	for _, n := range nodes {
		n.beatNow()
	}
	ctx := context.Background()
	for _, room := range rooms {
		if owner(t, rdb, room) == "" {
			t.Fatalf("no record under the hashed key of a placed room")
		}
	}
	keys, err := rdb.Keys(ctx, "*").Result()
	if err != nil {
		t.Fatal(err)
	}
	if len(keys) < 30 {
		t.Fatalf("only %d keys: %v", len(keys), keys)
	}
	for _, k := range keys {
		ttl, err := rdb.PTTL(ctx, k).Result()
		if err != nil || ttl <= 0 || ttl > testTTL {
			t.Errorf("key %q has TTL %v (%v); want 0 < TTL <= %v", k, ttl, err, testTTL)
		}
		var values []string
		switch typ, _ := rdb.Type(ctx, k).Result(); typ {
		case "string":
			v, _ := rdb.Get(ctx, k).Result()
			values = []string{v}
		case "set":
			values, _ = rdb.SMembers(ctx, k).Result()
		default:
			t.Errorf("key %q has unexpected type %q", k, typ)
		}
		blob := strings.ToLower(k + "\n" + strings.Join(values, "\n"))
		for _, room := range rooms {
			if strings.Contains(blob, room) {
				t.Errorf("room code %q appears in key %q or its value", room, k)
			}
		}
		if strings.Contains(blob, string(testSecret)) {
			t.Errorf("the secret appears in %q", k)
		}
	}
}
