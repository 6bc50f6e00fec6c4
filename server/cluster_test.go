package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/monkeythorn/meet/internal/leaktest"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/monkeythorn/meet/auth"
	"github.com/monkeythorn/meet/cluster"
	"github.com/monkeythorn/meet/cluster/clustertest"
	"github.com/monkeythorn/meet/sfu"
	"github.com/monkeythorn/meet/signaling"
)

// Multi-node tests: several Servers in this process, each with its own SFU
// on a loopback UDP port, sharing one real redis-server. Short cluster
// timings (TTL 1.5 s) keep the failure tests quick; the TTL/refresh ratio is
// the production one.
const (
	clusterTTL     = 1500 * time.Millisecond
	clusterRefresh = 250 * time.Millisecond
	// clusterMissing: how late a heartbeat may be before the other nodes
	// take the node for gone. The production ratio (two heartbeats, 500 ms
	// at these timings) is shorter than the scheduling delays these
	// tests see when other packages share the two cores: a live survivor
	// then lost the room it had just taken to the other survivor, its
	// participants were handed a redirect (which TestClusterHostDies now
	// follows, as the web client does; it still happens under heavy load),
	// and the two clients sat on two nodes with no media. The
	// takeover after a missing heartbeat has its own tests
	// (cluster.TestMissingHeartbeatMovesRoom, e2e.TestFailoverAfterSIGKILL).
	clusterMissing = clusterTTL
	// servicePublicURL is the service's name in invite links; pages come
	// from it, so every node must accept WebSockets with its Origin.
	servicePublicURL = "http://meet.test"
	maxRedirects     = 3
)

type clusterNodeT struct {
	t     testing.TB
	id    string
	s     *Server
	base  string // http://127.0.0.1:port, the node's own URL
	ws    string
	http  *http.Client
	proxy *tcpProxy // the node's way to Redis, cut to simulate a crash
	down  bool
}

// startClusterNode starts a node whose Redis traffic goes through a proxy
// the test can cut.
func startClusterNode(t testing.TB, rds *clustertest.Redis, id string, edit func(*Config)) *clusterNodeT {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	base := "http://" + ln.Addr().String()
	proxy := startTCPProxy(t, rds.Addr())
	cfg := Config{
		Logger:    slog.New(slog.NewTextHandler(io.Discard, nil)),
		Secret:    testSecret,
		PublicURL: servicePublicURL,
		SFU:       sfu.Config{ListenIP: "127.0.0.1", IncludeLoopback: true},
		Cluster: &cluster.Config{
			RedisURL: "redis://" + proxy.addr() + "/0", NodeID: id, PublicURL: base,
			TTL: clusterTTL, Refresh: clusterRefresh, Missing: clusterMissing,
		},
	}
	if edit != nil {
		edit(&cfg)
	}
	s, err := New(cfg)
	if err != nil {
		ln.Close()
		t.Fatalf("node %s: %v", id, err)
	}
	go func() { _ = s.Serve(ln) }()
	n := &clusterNodeT{t: t, id: id, s: s, base: base, ws: "ws://" + ln.Addr().String() + "/ws",
		http: &http.Client{Transport: &http.Transport{}, Timeout: 5 * time.Second}, proxy: proxy}
	t.Cleanup(func() { n.shutdown() })
	return n
}

// shutdown stops the node gracefully (it deregisters from Redis).
func (n *clusterNodeT) shutdown() {
	if n.down {
		return
	}
	n.down = true
	n.http.CloseIdleConnections()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := n.s.Shutdown(ctx); err != nil {
		n.t.Errorf("node %s: Shutdown: %v", n.id, err)
	}
}

// crash cuts the node off Redis first, so nothing it does on the way down
// reaches Redis: its records are left to expire, as when a machine dies.
func (n *clusterNodeT) crash() {
	n.proxy.cut()
	n.down = true
	n.http.CloseIdleConnections()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = n.s.Shutdown(ctx) // fails to deregister: Redis is unreachable
}

func (n *clusterNodeT) post(path, body string) (int, []byte) {
	n.t.Helper()
	resp, err := n.http.Post(n.base+path, "application/json", strings.NewReader(body))
	if err != nil {
		n.t.Fatalf("node %s: POST %s: %v", n.id, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

func (n *clusterNodeT) get(path string) (int, []byte) {
	n.t.Helper()
	resp, err := n.http.Get(n.base + path)
	if err != nil {
		n.t.Fatalf("node %s: GET %s: %v", n.id, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

func (n *clusterNodeT) newRoom() string {
	n.t.Helper()
	st, b := n.post("/api/rooms", "")
	var rr roomsResponse
	if st != 200 || json.Unmarshal(b, &rr) != nil {
		n.t.Fatalf("rooms: %d %s", st, b)
	}
	return rr.Code
}

func (n *clusterNodeT) token(room string) tokenResponse {
	n.t.Helper()
	st, b := n.post("/api/token", `{"room":"`+room+`","e2ee":true}`)
	var tr tokenResponse
	if st != 200 || json.Unmarshal(b, &tr) != nil {
		n.t.Fatalf("node %s: token: %d %s", n.id, st, b)
	}
	return tr
}

func startCluster(t *testing.T, rds *clustertest.Redis, count int) []*clusterNodeT {
	t.Helper()
	nodes := make([]*clusterNodeT, count)
	for i := range nodes {
		nodes[i] = startClusterNode(t, rds, fmt.Sprintf("node%d", i+1), nil)
	}
	return nodes
}

// hostOf returns the node whose SFU has participants, failing the test if
// there is not exactly one.
func hostOf(t *testing.T, nodes []*clusterNodeT) *clusterNodeT {
	t.Helper()
	var hosts []*clusterNodeT
	for _, n := range nodes {
		if !n.down && n.s.sfu.RoomCount() > 0 {
			hosts = append(hosts, n)
		}
	}
	if len(hosts) != 1 {
		var ids []string
		for _, h := range hosts {
			ids = append(ids, h.id)
		}
		t.Fatalf("%d nodes host rooms (%v), want exactly one", len(hosts), ids)
	}
	return hosts[0]
}

// errJoinRefused carries the server's error message to the test.
var errJoinRefused = errors.New("join refused")

// dialJoin connects to wsURL and joins, following redirects as the web
// client does. It returns the connection, the welcome, and the URL of the
// node that answered it.
func dialJoin(wsURL, token, room string) (*websocket.Conn, signaling.Welcome, string, error) {
	hdr := http.Header{"Origin": {servicePublicURL}}
	for range maxRedirects + 1 {
		ws, resp, err := websocket.DefaultDialer.Dial(wsURL, hdr)
		if err != nil {
			if resp != nil {
				err = fmt.Errorf("%w (HTTP %d)", err, resp.StatusCode)
			}
			return nil, signaling.Welcome{}, "", err
		}
		_ = ws.SetWriteDeadline(time.Now().Add(5 * time.Second))
		_ = ws.WriteJSON(signaling.Join{Type: signaling.TypeJoin, Version: signaling.Version, Token: token, Room: room})
		_ = ws.SetReadDeadline(time.Now().Add(5 * time.Second))
		_, data, err := ws.ReadMessage()
		if err != nil {
			ws.Close()
			return nil, signaling.Welcome{}, "", err
		}
		var env signaling.Envelope
		_ = json.Unmarshal(data, &env)
		switch env.Type {
		case signaling.TypeWelcome:
			var w signaling.Welcome
			_ = json.Unmarshal(data, &w)
			_ = ws.SetReadDeadline(time.Time{})
			_ = ws.SetWriteDeadline(time.Time{})
			return ws, w, wsURL, nil
		case signaling.TypeRedirect:
			var r signaling.Redirect
			_ = json.Unmarshal(data, &r)
			ws.Close()
			wsURL = r.URL
		default:
			ws.Close()
			return nil, signaling.Welcome{}, "", fmt.Errorf("%w: %s", errJoinRefused, data)
		}
	}
	return nil, signaling.Welcome{}, "", fmt.Errorf("more than %d redirects", maxRedirects)
}

// joinCluster joins room through wsURL (following redirects) and starts a
// Pion client there that publishes and checks media as in
// integration_test.go. It returns the client and the node URL it ended on.
func joinCluster(t *testing.T, wsURL, token, room string, index byte) (*pionClient, string) {
	t.Helper()
	ws, w, at, err := dialJoin(wsURL, token, room)
	if err != nil {
		t.Fatalf("client %d: join via %s: %v", index, wsURL, err)
	}
	c := newPionClient(t, ws, index)
	c.start(w, pionOptions{})
	t.Cleanup(c.leave)
	return c, at
}

// TestClusterOneRoomOneNode: three participants join one room through three
// different nodes' /ws; two are redirected, all end on one node and receive
// each other's media. Tokens from any node name the host directly.
func TestClusterOneRoomOneNode(t *testing.T) {
	leaktest.Check(t)
	rds := clustertest.StartRedis(t)
	nodes := startCluster(t, rds, 3)
	room := nodes[0].newRoom()

	var clients []*pionClient
	ends := map[string]int{}
	for i, n := range nodes {
		tok := nodes[(i+1)%3].token(room) // a token from one node, signaling through another
		c, at := joinCluster(t, n.ws, tok.Token, room, byte(i+1))
		clients = append(clients, c)
		ends[at]++
	}
	if len(ends) != 1 {
		t.Fatalf("clients ended on %d nodes: %v", len(ends), ends)
	}
	host := hostOf(t, nodes)
	if _, ok := ends[host.ws]; !ok || host.s.sfu.ParticipantCount() != 3 {
		t.Fatalf("host %s has %d participants; clients ended at %v", host.id, host.s.sfu.ParticipantCount(), ends)
	}
	for _, n := range nodes {
		if tr := n.token(room); tr.WS != host.ws {
			t.Errorf("token from %s names %s, want the host %s", n.id, tr.WS, host.ws)
		}
	}
	waitMedia(t, clients, clients, 25, 15*time.Second)
	for _, c := range clients {
		c.checkErrors(t)
	}

	// Every node accepts the service's origin (the page comes from it), and
	// only that.
	for _, n := range nodes {
		for origin, want := range map[string]int{servicePublicURL: http.StatusSwitchingProtocols, "http://evil.test": http.StatusForbidden} {
			ws, resp, err := websocket.DefaultDialer.Dial(n.ws, http.Header{"Origin": {origin}})
			if ws != nil {
				ws.Close()
			}
			if resp == nil || resp.StatusCode != want {
				t.Errorf("node %s, Origin %s: %v %v, want HTTP %d", n.id, origin, resp, err, want)
			}
		}
	}
}

// TestClusterConcurrentFirstJoins: the first joins of a room arrive at all
// nodes at once; exactly one node ends up hosting it. Afterwards every
// Redis key has a TTL and no key or value holds a room code.
func TestClusterConcurrentFirstJoins(t *testing.T) {
	leaktest.Check(t)
	rds := clustertest.StartRedis(t)
	nodes := startCluster(t, rds, 3)
	const rooms = 4
	codes := make([]string, rooms)
	for r := range codes {
		codes[r] = nodes[r%3].newRoom()
	}
	type result struct {
		room int
		at   string
		ws   *websocket.Conn
		err  error
	}
	results := make(chan result, rooms*len(nodes))
	var wg sync.WaitGroup
	start := make(chan struct{})
	for r, code := range codes {
		for i, n := range nodes {
			tok := nodes[(i+r)%3].token(code).Token
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				ws, _, at, err := dialJoin(n.ws, tok, code)
				results <- result{r, at, ws, err}
			}()
		}
	}
	close(start)
	wg.Wait()
	close(results)
	where := make([]map[string]bool, rooms)
	for res := range results {
		if res.err != nil {
			t.Errorf("room %d: %v", res.room, res.err)
			continue
		}
		t.Cleanup(func() { res.ws.Close() })
		if where[res.room] == nil {
			where[res.room] = map[string]bool{}
		}
		where[res.room][res.at] = true
	}
	total := 0
	for _, n := range nodes {
		total += n.s.sfu.RoomCount()
	}
	for r, w := range where {
		if len(w) != 1 {
			t.Errorf("room %d is hosted on %d nodes: %v", r, len(w), w)
		}
	}
	if total != rooms {
		t.Errorf("the nodes host %d rooms in all, want %d", total, rooms)
	}
	checkRedisKeys(t, rds, codes)
}

// checkRedisKeys scans every key: each must expire, and no key or value may
// contain a room code.
func checkRedisKeys(t *testing.T, rds *clustertest.Redis, codes []string) {
	t.Helper()
	rdb := rds.Client()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	keys, err := rdb.Keys(ctx, "*").Result()
	if err != nil {
		t.Fatal(err)
	}
	rooms := 0
	for _, k := range keys {
		ttl, err := rdb.PTTL(ctx, k).Result()
		if err != nil || ttl <= 0 || ttl > clusterTTL {
			t.Errorf("key %q: TTL %v %v, want 0 < TTL <= %v", k, ttl, err, clusterTTL)
		}
		var val string
		switch typ := rdb.Type(ctx, k).Val(); typ {
		case "string":
			val = rdb.Get(ctx, k).Val()
		case "set":
			val = strings.Join(rdb.SMembers(ctx, k).Val(), ",")
		default:
			t.Errorf("key %q has unexpected type %s", k, typ)
		}
		for _, code := range codes {
			if strings.Contains(strings.ToLower(k+val), strings.ToLower(code)) {
				t.Errorf("key %q (value %q) contains room code %s", k, val, code)
			}
		}
		if strings.HasPrefix(k, "meet:room:") {
			rooms++
		}
	}
	if rooms != len(codes) {
		t.Errorf("%d room records in Redis, want %d: %v", rooms, len(codes), keys)
	}
}

// TestClusterHostDies: the node hosting a call goes away; within 10 s the
// participants are back in the call on another node (token from a
// surviving node, redirect followed) and exchange media again. Graceful:
// the node removes its records; crash: it cannot, and they expire.
func TestClusterHostDies(t *testing.T) {
	for _, mode := range []string{"graceful", "crash"} {
		t.Run(mode, func(t *testing.T) {
			leaktest.Check(t)
			rds := clustertest.StartRedis(t)
			nodes := startCluster(t, rds, 3)
			room := nodes[0].newRoom()
			var clients []*pionClient
			for i := range 2 {
				c, _ := joinCluster(t, nodes[i].ws, nodes[i].token(room).Token, room, byte(i+1))
				clients = append(clients, c)
			}
			waitMedia(t, clients, clients, 10, 15*time.Second)
			host := hostOf(t, nodes)

			killed := time.Now()
			if mode == "crash" {
				host.crash()
			} else {
				host.shutdown()
			}
			for _, c := range clients {
				c.leave() // the old connections are gone with the node
			}
			var survivors []*clusterNodeT
			for _, n := range nodes {
				if n != host {
					survivors = append(survivors, n)
				}
			}
			var again []*pionClient
			for i, c := range clients {
				c2 := rejoin(t, survivors[i%len(survivors)], room, c.index, killed.Add(10*time.Second))
				again = append(again, c2)
			}
			again = waitMediaFollowing(t, again, survivors[0], room, 10, killed.Add(10*time.Second))
			t.Logf("%s: media flows again %v after the host went away", mode, time.Since(killed).Round(10*time.Millisecond))
			if h := hostOf(t, survivors); h == host {
				t.Fatal("the room is still on the dead node")
			}
			for _, c := range again {
				c.checkErrors(t)
			}
		})
	}
}

// waitMediaFollowing waits until every one of clients, all joined afresh,
// has n packets of each kind from each other, and returns them. A client
// the server redirects meanwhile rejoins through via, as the web client
// follows a redirect: under load both survivors may take a dead host's
// room, and the one that then finds it registered to the other gives it
// up and sends its participants there.
func waitMediaFollowing(t *testing.T, clients []*pionClient, via *clusterNodeT, room string, n int, deadline time.Time) []*pionClient {
	t.Helper()
	for {
		for i, c := range clients {
			select {
			case url := <-c.redirected:
				t.Logf("client %d redirected to %s in the call: rejoins", c.index, url)
				c.leave()
				clients[i] = rejoin(t, via, room, c.index, deadline)
			default:
			}
		}
		var missing []string
		for _, r := range clients {
			for _, p := range clients {
				for _, k := range []string{"audio", "video"} {
					if got := r.count(p.index, k); r != p && got < n {
						missing = append(missing, fmt.Sprintf("%d<-%d/%s: %d", r.index, p.index, k, got))
					}
				}
			}
		}
		if len(missing) == 0 {
			return clients
		}
		if time.Now().After(deadline) {
			t.Fatalf("still missing media at the deadline: %s", strings.Join(missing, ", "))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// rejoin is the client's reconnect: a fresh token from any node, then the
// token's signaling URL, redirects followed. While the dead host's room
// record lives on (crash: until its TTL ends) joins are redirected to the
// dead node and fail, so it retries until deadline.
func rejoin(t *testing.T, via *clusterNodeT, room string, index byte, deadline time.Time) *pionClient {
	t.Helper()
	for {
		st, b := via.post("/api/token", `{"room":"`+room+`","e2ee":true}`)
		var tr tokenResponse
		if st == 200 && json.Unmarshal(b, &tr) == nil {
			ws, _, _, err := dialJoin(tr.WS, tr.Token, room)
			if err == nil {
				ws.Close() // reachable: join for real below
				// The probe spent its token (a token joins once, and
				// the probe may not have left yet): take a fresh one.
				st, b = via.post("/api/token", `{"room":"`+room+`","e2ee":true}`)
				var fresh tokenResponse
				if st == 200 && json.Unmarshal(b, &fresh) == nil {
					c, _ := joinCluster(t, fresh.WS, fresh.Token, room, index)
					return c
				}
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("client %d could not rejoin by the deadline: last token answer %d %s", index, st, b)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestClusterRedisOutage: Redis goes away while a call runs. The call goes
// on, joins of the running room on its host still work, /readyz reports
// the cluster, a new room is refused with "unavailable" (or served locally
// by a node with FallbackLocal). When an empty Redis comes back, the nodes
// re-register their rooms: joins through other nodes are redirected to
// the hosts again.
func TestClusterRedisOutage(t *testing.T) {
	leaktest.Check(t)
	rds := clustertest.StartRedis(t)
	a := startClusterNode(t, rds, "a", nil)
	b := startClusterNode(t, rds, "b", nil)
	fallback := func(c *Config) { c.Cluster.FallbackLocal = true }
	fb := startClusterNode(t, rds, "fallback", fallback)
	fb2 := startClusterNode(t, rds, "fallback2", fallback)
	nodes := []*clusterNodeT{a, b, fb, fb2}
	room := a.newRoom()
	var clients []*pionClient
	for i := range 2 {
		c, _ := joinCluster(t, a.ws, a.token(room).Token, room, byte(i+1))
		clients = append(clients, c)
	}
	host := hostOf(t, nodes)
	waitMedia(t, clients, clients, 10, 15*time.Second)

	rds.Stop()
	for _, n := range nodes {
		waitReady(t, n, http.StatusServiceUnavailable)
	}
	waitMedia(t, clients, clients, 25, 10*time.Second) // the call goes on

	// A third participant joins the running room on its host: no Redis needed.
	late, _ := joinCluster(t, host.ws, host.token(room).Token, room, 3)
	waitMedia(t, []*pionClient{late}, clients, 10, 10*time.Second)

	// A new room: refused on a plain node, at token time and at join time.
	other := a
	if other == host {
		other = b
	}
	fresh := other.newRoom()
	if st, body := other.post("/api/token", `{"room":"`+fresh+`"}`); st != http.StatusServiceUnavailable || !strings.Contains(string(body), codeUnavailable) {
		t.Errorf("token for a new room during the outage: %d %s", st, body)
	}
	tok, _, err := host.s.issuer.Issue(tokenFor(fresh))
	if err != nil {
		t.Fatal(err)
	}
	if _, _, _, err := dialJoin(other.ws, tok, fresh); !errors.Is(err, errJoinRefused) || !strings.Contains(err.Error(), `"code":"unavailable"`) {
		t.Errorf("join of a new room during the outage: %v", err)
	}
	// ... and hosted locally by the fallback nodes: both, since they cannot
	// know of each other.
	local := fb.newRoom()
	var lws []*websocket.Conn
	for _, n := range []*clusterNodeT{fb, fb2} {
		ltok, _, _ := n.s.issuer.Issue(tokenFor(local))
		ws, _, at, err := dialJoin(n.ws, ltok, local)
		if err != nil || at != n.ws {
			t.Fatalf("fallback node %s: join of a new room: %v (at %s)", n.id, err, at)
		}
		defer ws.Close()
		lws = append(lws, ws)
	}

	rds.Start() // empty, as a Redis without persistence after a restart
	for _, n := range nodes {
		waitReady(t, n, http.StatusOK)
	}
	// The first fallback node to re-register keeps the room; the other
	// sends its participant there.
	redirected := make(chan string, 2)
	for _, ws := range lws {
		go func() {
			_ = ws.SetReadDeadline(time.Now().Add(5 * time.Second))
			for {
				var r signaling.Redirect
				if err := ws.ReadJSON(&r); err != nil {
					redirected <- ""
					return
				}
				if r.Type == signaling.TypeRedirect {
					redirected <- r.URL
					return
				}
			}
		}()
	}
	winner := map[string]*clusterNodeT{fb.ws: fb, fb2.ws: fb2}[<-redirected]
	if winner == nil {
		t.Fatal("after Redis returned, no participant of the doubled room was redirected to the node that kept it")
	}
	if want := map[bool]int{false: 1, true: 2}[winner == host]; winner.s.sfu.RoomCount() != want {
		t.Fatalf("the node that kept the doubled room hosts %d rooms, want %d", winner.s.sfu.RoomCount(), want)
	}
	for _, ws := range lws {
		// Ends the other reader but keeps the winner's participant (and so
		// its room) alive.
		_ = ws.SetReadDeadline(time.Now())
	}
	<-redirected
	// Re-registered: the running room and the fallback room are found by
	// nodes that do not host them.
	for _, tc := range []struct {
		room string
		via  *clusterNodeT
		want *clusterNodeT
	}{{room, other, host}, {local, other, winner}} {
		tok, _, _ := tc.via.s.issuer.Issue(tokenFor(tc.room))
		ws, _, at, err := dialJoin(tc.via.ws, tok, tc.room)
		if err != nil || at != tc.want.ws {
			t.Errorf("after Redis returned, a join via %s ended at %s (%v), want %s", tc.via.id, at, err, tc.want.id)
		}
		if ws != nil {
			ws.Close()
		}
	}
	waitMedia(t, clients, clients, 10, 10*time.Second)
	late.leave()
}

func tokenFor(room string) auth.TokenRequest {
	return auth.TokenRequest{Room: auth.RoomCode(room), E2EE: true, Grants: auth.Grants{Publish: true, Subscribe: true}}
}

func waitReady(t *testing.T, n *clusterNodeT, want int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		st, body := n.get("/readyz")
		if st == want {
			if want != http.StatusOK && !strings.Contains(string(body), `"cluster"`) {
				t.Errorf("node %s: /readyz %d does not name the cluster: %s", n.id, st, body)
			}
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("node %s: /readyz %d %s, want %d", n.id, st, body, want)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// tcpProxy forwards connections to one address until cut, which closes
// every connection and refuses new ones: a network partition.
type tcpProxy struct {
	ln     net.Listener
	target string
	mu     sync.Mutex
	conns  []net.Conn
	isCut  bool
	wg     sync.WaitGroup
}

func startTCPProxy(t testing.TB, target string) *tcpProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &tcpProxy{ln: ln, target: target}
	p.wg.Add(1)
	go p.accept()
	t.Cleanup(p.close)
	return p
}

func (p *tcpProxy) addr() string { return p.ln.Addr().String() }

func (p *tcpProxy) accept() {
	defer p.wg.Done()
	for {
		in, err := p.ln.Accept()
		if err != nil {
			return
		}
		out, err := net.DialTimeout("tcp", p.target, time.Second)
		p.mu.Lock()
		if err != nil || p.isCut {
			p.mu.Unlock()
			in.Close()
			if out != nil {
				out.Close()
			}
			continue
		}
		p.conns = append(p.conns, in, out)
		p.mu.Unlock()
		p.wg.Add(2)
		go p.pipe(in, out)
		go p.pipe(out, in)
	}
}

func (p *tcpProxy) pipe(dst, src net.Conn) {
	defer p.wg.Done()
	_, _ = io.Copy(dst, src)
	dst.Close()
	src.Close()
}

func (p *tcpProxy) cut() {
	p.mu.Lock()
	p.isCut = true
	conns := p.conns
	p.conns = nil
	p.mu.Unlock()
	for _, c := range conns {
		c.Close()
	}
}

func (p *tcpProxy) close() {
	p.cut()
	p.ln.Close()
	p.wg.Wait()
}
