package cluster

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/redis/go-redis/v9/maintnotifications"

	"github.com/monkeythorn/meet/auth"
)

// Cluster is one node's view of the cluster. It is safe for concurrent use.
// Call Run in a goroutine to keep the node's records alive, and Close after
// Run has returned.
type Cluster struct {
	cfg  Config
	log  *slog.Logger
	rdb  *redis.Client
	fp   string        // fingerprint of cfg.Secret
	wake chan struct{} // asks Run for an early heartbeat; capacity 1

	mu       sync.Mutex
	rooms    map[string]string   // room key → room code, for rooms hosted here
	released map[string]struct{} // room keys to delete from Redis at the next heartbeat
	draining bool
	probed   map[string]time.Time // node id → when PlaceLost last probed it
	state    error                // nil while Redis answers and the secret matches
	closed   bool
}

// New validates cfg, connects to Redis, checks that the token secret matches
// the one the other nodes registered and registers this node. It fails if
// Redis cannot be reached, because without it the secret cannot be checked.
func New(ctx context.Context, cfg Config) (*Cluster, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	opt, err := redis.ParseURL(cfg.RedisURL)
	if err != nil {
		var uerr *url.Error
		if errors.As(err, &uerr) {
			// url.Error quotes the whole URL, password included.
			return nil, fmt.Errorf("%w: the Redis URL does not parse (expected redis://[user:password@]host:port[/db])", ErrConfig)
		}
		return nil, fmt.Errorf("%w: Redis URL: %v", ErrConfig, err)
	}
	// Fail fast rather than retry: an operation that takes longer than a
	// heartbeat is better reported as an outage, and the next heartbeat is
	// the retry.
	opt.DialTimeout = cfg.Refresh
	opt.ReadTimeout = cfg.Refresh
	opt.WriteTimeout = cfg.Refresh
	opt.MaxRetries = -1
	opt.DialerRetries = 1
	opt.DisableIdentity = true
	opt.MaintNotificationsConfig = &maintnotifications.Config{Mode: maintnotifications.ModeDisabled}

	c := &Cluster{
		cfg:      cfg,
		log:      cfg.Logger.With("node", cfg.NodeID),
		rdb:      redis.NewClient(opt),
		fp:       auth.SecretFingerprint(cfg.Secret),
		wake:     make(chan struct{}, 1),
		rooms:    make(map[string]string),
		released: make(map[string]struct{}),
		probed:   make(map[string]time.Time),
	}
	if err := c.join(ctx); err != nil {
		_ = c.rdb.Close()
		return nil, err
	}
	c.log.Info("cluster: joined", "url", cfg.PublicURL, "redis", opt.Addr, "ttl", cfg.TTL, "refresh", cfg.Refresh)
	return c, nil
}

// join refuses a node id that a live node with another URL uses (two nodes
// overwriting one record would lose each other's rooms), then registers.
func (c *Cluster) join(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, c.cfg.TTL)
	defer cancel()
	raw, err := c.rdb.Get(ctx, nodeKey(c.cfg.NodeID)).Bytes()
	switch {
	case errors.Is(err, redis.Nil):
	case err != nil:
		return fmt.Errorf("%w: cannot reach Redis at startup, so the token secret cannot be checked: %v", ErrUnavailable, err)
	default:
		if n, ok := decodeNode(c.cfg.NodeID, raw); ok && n.URL != c.cfg.PublicURL {
			return fmt.Errorf("%w: node id %q is in use by the live node at %s; give each node its own id", ErrConfig, c.cfg.NodeID, n.URL)
		}
	}
	return c.beat(ctx)
}

// SetDraining stops (or resumes) placing new rooms on this node. Rooms it
// hosts stay here until they empty.
func (c *Cluster) SetDraining(draining bool) {
	c.mu.Lock()
	c.draining = draining
	c.mu.Unlock()
	c.poke()
	c.log.Info("cluster: draining", "draining", draining)
}

// RoomOpened tells the cluster this node now hosts room, so the heartbeat
// keeps its record alive (and re-registers it after a Redis outage). Call it
// when the room is created here after Place answered Local.
func (c *Cluster) RoomOpened(room string) {
	key := roomKey(c.cfg.Secret, room)
	c.mu.Lock()
	c.rooms[key] = room
	delete(c.released, key)
	c.mu.Unlock()
}

// RoomClosed tells the cluster the room emptied. Its record is deleted at
// an early heartbeat; until then Place still answers with this node, which
// is harmless because the room is simply recreated here.
func (c *Cluster) RoomClosed(room string) {
	key := roomKey(c.cfg.Secret, room)
	c.mu.Lock()
	if _, ok := c.rooms[key]; ok {
		delete(c.rooms, key)
		c.released[key] = struct{}{}
	}
	c.mu.Unlock()
	c.poke()
}

// Ready returns nil while Redis answers and the secret matches; otherwise an
// error wrapping ErrUnavailable, ErrSecretMismatch or ErrClosed that says
// what is wrong. Hosted rooms keep working either way.
func (c *Cluster) Ready() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return ErrClosed
	}
	return c.state
}

// NodeID returns this node's id.
func (c *Cluster) NodeID() string { return c.cfg.NodeID }

// Close removes this node and the records of the rooms it hosts from Redis
// (best effort, so the rooms can move at once) and closes the connection.
// Call it after Run has returned.
func (c *Cluster) Close() error {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return nil
	}
	c.closed = true
	keys := make([]string, 0, len(c.rooms)+len(c.released))
	for k := range c.rooms {
		keys = append(keys, k)
	}
	for k := range c.released {
		keys = append(keys, k)
	}
	c.mu.Unlock()

	ctx, cancel := context.WithTimeout(context.Background(), c.cfg.Refresh)
	defer cancel()
	pipe := c.rdb.Pipeline()
	for _, k := range keys {
		releaseRoom.Eval(ctx, pipe, []string{k}, c.cfg.NodeID)
	}
	pipe.Del(ctx, nodeKey(c.cfg.NodeID))
	pipe.SRem(ctx, keyNodes, c.cfg.NodeID)
	if _, err := pipe.Exec(ctx); err != nil {
		c.log.Warn("cluster: could not remove this node's records; they expire on their own", "ttl", c.cfg.TTL, "err", err)
	}
	return c.rdb.Close()
}

// poke asks Run for an early heartbeat without blocking.
func (c *Cluster) poke() {
	select {
	case c.wake <- struct{}{}:
	default:
	}
}

// hosts reports whether room is hosted here.
func (c *Cluster) hosts(key string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	_, ok := c.rooms[key]
	return ok
}

// setState records the outcome of a Redis exchange and logs transitions, so
// an outage is logged once, not once per heartbeat.
func (c *Cluster) setState(err error) {
	c.mu.Lock()
	was := c.state
	c.state = err
	rooms := len(c.rooms)
	c.mu.Unlock()
	switch {
	case err != nil && (was == nil || was.Error() != err.Error()):
		c.log.Error("cluster: not ready; hosted rooms keep working", "err", err, "fallback_local", c.cfg.FallbackLocal)
	case err == nil && was != nil:
		c.log.Info("cluster: ready again; hosted rooms re-registered", "rooms", rooms)
	}
}
