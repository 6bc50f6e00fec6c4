package server

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/monkeythorn/meet/cluster"
	"github.com/monkeythorn/meet/sfu"
	"github.com/monkeythorn/meet/signaling"
)

// Multi-node mode (docs/scaling.md): a check before every join asks the
// cluster where its room lives. A room hosted here joins at once; a room
// hosted elsewhere gets a redirect to that node; a room nobody hosts is
// claimed for the least loaded node. The cluster hears of rooms opened and
// closed here as SFU room events. The cluster needs the SFU (load) and the
// SFU's observers include the cluster, so the server builds both and owns
// their lifecycle; three nodes can then run in one test process.

// Time limits of cluster calls made on behalf of a client. Place takes two
// or three Redis round trips; a Redis slower than this is an outage.
const (
	placeTimeout     = 2 * time.Second
	clusterStartWait = 10 * time.Second // cluster.New: connect, check the secret, register
	codeUnavailable  = signaling.CodeUnavailable
)

// clusterNode is this server's part in a cluster.
type clusterNode struct {
	c      *cluster.Cluster
	cpu    *cluster.CPUSampler
	stop   context.CancelFunc
	done   chan struct{} // closed when Run returns
	lostWG sync.WaitGroup
	drain  atomic.Bool // SetDraining(true) sent
}

// newClusterNode is this node's part in the cluster, before it joins: the
// SFU needs it as an observer when it is built.
func (s *Server) newClusterNode() *clusterNode {
	if s.cfg.Cluster == nil {
		return nil
	}
	return &clusterNode{cpu: cluster.NewCPUSampler(), done: make(chan struct{})}
}

// RoomEvent records which rooms this node hosts (sfu.RoomObserver). Events
// come only after New has returned (no join happens before), when n.c is
// set.
func (n *clusterNode) RoomEvent(e sfu.RoomEvent) {
	switch e := e.(type) {
	case sfu.RoomOpened:
		n.c.RoomOpened(e.Room)
	case sfu.RoomClosed:
		n.c.RoomClosed(e.Room)
	}
}

// startCluster joins the cluster (when configured). Every failure wraps
// ErrConfig: a node that cannot check its secret against the others must
// not start.
func (s *Server) startCluster(n *clusterNode) error {
	if n == nil {
		return nil
	}
	cc := *s.cfg.Cluster
	cc.Secret = s.cfg.Secret
	if cc.Logger == nil {
		cc.Logger = s.log.With("component", "cluster")
	}
	if cc.Load == nil {
		cc.Load = func() cluster.Load {
			s.followDraining(n)
			return cluster.Load{Participants: s.sfu.ParticipantCount(), CPU: n.cpu.Share()}
		}
	}
	if cc.Lost == nil {
		cc.Lost = func(room string) { s.roomLost(n, room) }
	}
	ctx, cancel := context.WithTimeout(context.Background(), clusterStartWait)
	defer cancel()
	c, err := cluster.New(ctx, cc)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrConfig, err)
	}
	n.c = c
	runCtx, stop := context.WithCancel(context.Background())
	n.stop = stop
	go func() {
		defer close(n.done)
		_ = c.Run(runCtx)
	}()
	s.cl = n
	s.cfg.ReadyChecks = append(slices.Clip(s.cfg.ReadyChecks), ReadyCheck{
		Name:  "cluster",
		Check: func(context.Context) error { return c.Ready() },
	})
	s.web = clusterPages(s.web, s.public, cc.PublicURL)
	return nil
}

// followDraining passes the server's draining state (Drain or Shutdown) to
// the cluster at the next heartbeat, so other nodes stop sending new rooms
// here while the last calls end.
func (s *Server) followDraining(n *clusterNode) {
	// Load runs before the heartbeat takes the cluster's lock, so this
	// heartbeat already publishes the flag.
	if s.draining.Load() && !n.drain.Swap(true) {
		n.c.SetDraining(true)
	}
}

// clusterDraining marks the node draining at once; Shutdown's first step.
func (s *Server) clusterDraining() {
	if s.cl != nil && !s.cl.drain.Swap(true) {
		s.cl.c.SetDraining(true)
	}
}

// closeCluster stops the heartbeat and removes this node's records, so its
// rooms can be placed elsewhere at once. Shutdown's last step: the SFU has
// closed its rooms, so their records are released too.
func (s *Server) closeCluster(ctx context.Context) error {
	if s.cl == nil {
		return nil
	}
	s.cl.stop()
	select {
	case <-s.cl.done:
	case <-ctx.Done():
		return fmt.Errorf("server: stopping the cluster heartbeat: %w", ctx.Err())
	}
	s.cl.lostWG.Wait()
	return s.cl.c.Close()
}

// roomLost sends the participants of a room this node no longer owns to
// the node that does: the SFU closes the room here, and each participant's
// Closed event names the node to go to. Called from the cluster's
// heartbeat, so it must not block.
func (s *Server) roomLost(n *clusterNode, room string) {
	n.lostWG.Add(1)
	go func() {
		defer n.lostWG.Done()
		ctx, cancel := context.WithTimeout(context.Background(), placeTimeout)
		defer cancel()
		p, err := n.c.Place(ctx, room)
		if err != nil || p.Local {
			// Local: the owner vanished since; the room simply stays here.
			s.log.Warn("cluster: lost room could not be placed; its participants stay", "err", err)
			return
		}
		ws, err := signaling.SignalingURL(p.URL)
		if err != nil {
			s.log.Error("cluster: bad node URL in Redis", "node", p.NodeID, "err", err)
			return
		}
		s.sfu.CloseRoom(room, sfu.Closed{MovedTo: ws})
	}()
}

// place answers where room lives, as a signaling URL; "" means here.
// hostLost: the participant lost its connection to the room's host without
// a drain (cluster.PlaceLost).
func (n *clusterNode) place(room string, hostLost bool) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), placeTimeout)
	defer cancel()
	place := n.c.Place
	if hostLost {
		place = n.c.PlaceLost
	}
	p, err := place(ctx, room)
	if err != nil {
		return "", err
	}
	if p.Local {
		return "", nil
	}
	return signaling.SignalingURL(p.URL)
}

// checkJoin is the placement check before a join (signaling.JoinCheck): a
// room hosted on another node redirects there, a room that cannot be
// placed is unavailable, and a room hosted here (or claimed for this node
// now) joins.
func (n *clusterNode) checkJoin(room string, _ *signaling.JoinRequest) error {
	ws, err := n.place(room, false)
	if err != nil {
		return &signaling.UnavailableError{Message: placeMessage(err), Err: err}
	}
	if ws != "" {
		return &signaling.RedirectError{URL: ws}
	}
	return nil
}

// placeMessage is what a participant reads when their room cannot be
// placed: what to do, without internal addresses.
func placeMessage(err error) string {
	switch {
	case errors.Is(err, cluster.ErrNoNodes):
		return "no server takes new meetings right now; try again in a minute"
	case errors.Is(err, cluster.ErrSecretMismatch):
		return "the meeting servers are misconfigured (their secrets differ); tell the operator"
	case errors.Is(err, cluster.ErrClosed):
		return "the server is shutting down; try again in a moment"
	}
	return "new meetings cannot start right now because the servers cannot reach their shared state; meetings already running go on. Try again in a minute"
}

// tokenWS is the signaling URL for a token of room: the hosting node's in
// cluster mode (so the browser goes straight there), else this server's. It
// answers the request itself and reports false when the room cannot be
// placed. hostLost is the client's report that its connection to the room's
// node broke without a drain.
func (s *Server) tokenWS(w http.ResponseWriter, r *http.Request, room string, hostLost bool) (string, bool) {
	if s.cl == nil {
		return s.wsURL(r), true
	}
	ws, err := s.cl.place(room, hostLost)
	if err != nil {
		s.log.Warn("cluster: token for a room that cannot be placed", "err", err)
		writeError(w, http.StatusServiceUnavailable, codeUnavailable, placeMessage(err))
		return "", false
	}
	if ws == "" {
		ws, _ = signaling.SignalingURL(s.cfg.Cluster.PublicURL) // checked by cluster.New
	}
	return ws, true
}

// clusterPages lets the pages connect to the other nodes' WebSockets: the
// web client's CSP allows connect-src 'self' only, and the page comes from
// the service's public URL while signaling goes to a node's own URL. Nodes
// are named under the public host (node1.meet.example.com for
// meet.example.com) or share its host on other ports; docs/scaling.md says
// so.
func clusterPages(next http.Handler, public *url.URL, nodeURL string) http.Handler {
	base := public
	if base == nil {
		base, _ = url.Parse(nodeURL)
	}
	scheme := "wss"
	if base.Scheme == "http" {
		scheme = "ws"
	}
	host := base.Hostname()
	if strings.Contains(host, ":") {
		host = "[" + host + "]"
	}
	extra := fmt.Sprintf("connect-src 'self' %s://%s:*", scheme, host)
	if net.ParseIP(base.Hostname()) == nil {
		extra += fmt.Sprintf(" %[1]s://*.%[2]s %[1]s://*.%[2]s:*", scheme, host)
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		next.ServeHTTP(&cspWriter{ResponseWriter: w, connectSrc: extra}, r)
	})
}

// cspWriter widens connect-src in the Content-Security-Policy the page
// handler set, just before the header goes out.
type cspWriter struct {
	http.ResponseWriter
	connectSrc string
	done       bool
}

func (c *cspWriter) fix() {
	if c.done {
		return
	}
	c.done = true
	h := c.Header()
	if csp := h.Get("Content-Security-Policy"); csp != "" {
		h.Set("Content-Security-Policy", strings.Replace(csp, "connect-src 'self'", c.connectSrc, 1))
	}
}

func (c *cspWriter) WriteHeader(code int) {
	c.fix()
	c.ResponseWriter.WriteHeader(code)
}

func (c *cspWriter) Write(b []byte) (int, error) {
	c.fix()
	return c.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the real writer.
func (c *cspWriter) Unwrap() http.ResponseWriter { return c.ResponseWriter }
