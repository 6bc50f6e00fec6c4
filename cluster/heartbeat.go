package cluster

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"
)

// Run refreshes this node's records every Config.Refresh (and soon after
// RoomClosed or SetDraining) until ctx ends; then it returns nil. Failures
// are not fatal: they show in Ready and the next heartbeat retries.
func (c *Cluster) Run(ctx context.Context) error {
	t := time.NewTicker(c.cfg.Refresh)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		case <-c.wake:
		}
		_ = c.beat(ctx)
	}
}

// beat runs one heartbeat bounded by the refresh period and records its
// outcome for Ready.
func (c *Cluster) beat(parent context.Context) error {
	ctx, cancel := context.WithTimeout(parent, c.cfg.Refresh)
	defer cancel()
	err := c.refresh(ctx)
	if err != nil && parent.Err() != nil {
		return err // shutting down; not an outage
	}
	c.setState(err)
	return err
}

// refresh checks the secret, then in one round trip rewrites this node's
// record, extends (or re-registers) the hosted rooms' records and deletes
// the records of rooms that closed.
func (c *Cluster) refresh(ctx context.Context) error {
	ttl := c.cfg.TTL
	got, err := keepOrSet.Run(ctx, c.rdb, []string{keySecret}, c.fp, ttl.Milliseconds()).Text()
	if err != nil {
		return fmt.Errorf("%w: %v", ErrUnavailable, err)
	}
	if got != c.fp {
		return fmt.Errorf("%w: Redis holds secret fingerprint %s but this node's is %s; start every node with the same token secret", ErrSecretMismatch, got, c.fp)
	}

	load := c.cfg.Load()
	c.mu.Lock()
	hosted := make(map[string]string, len(c.rooms))
	for k, room := range c.rooms {
		hosted[k] = room
	}
	released := make([]string, 0, len(c.released))
	for k := range c.released {
		released = append(released, k)
	}
	rec, _ := json.Marshal(Node{URL: c.cfg.PublicURL, Load: load, Rooms: len(hosted), Draining: c.draining, TTLMs: ttl.Milliseconds()})
	c.mu.Unlock()

	id := c.cfg.NodeID
	pipe := c.rdb.Pipeline()
	pipe.Set(ctx, nodeKey(id), rec, ttl)
	pipe.SAdd(ctx, keyNodes, id)
	pipe.PExpire(ctx, keyNodes, ttl)
	owners := make(map[string]*redis.Cmd, len(hosted))
	for k := range hosted {
		// Eval, not EvalSha: a restarted Redis has an empty script cache, and
		// a NOSCRIPT error inside a pipeline would cost a second round trip.
		owners[k] = keepOrSet.Eval(ctx, pipe, []string{k}, id, ttl.Milliseconds())
	}
	for _, k := range released {
		releaseRoom.Eval(ctx, pipe, []string{k}, id)
	}
	if _, err := pipe.Exec(ctx); err != nil {
		return fmt.Errorf("%w: %v", ErrUnavailable, err)
	}
	c.settle(hosted, released, owners)
	return nil
}

// settle forgets released rooms that are now deleted and gives up hosted
// rooms that another node registered while this one could not refresh them.
func (c *Cluster) settle(hosted map[string]string, released []string, owners map[string]*redis.Cmd) {
	var lost []string
	c.mu.Lock()
	for _, k := range released {
		delete(c.released, k)
	}
	for k, cmd := range owners {
		owner, _ := cmd.Text()
		if owner == c.cfg.NodeID {
			continue
		}
		if room, ok := c.rooms[k]; ok && room == hosted[k] {
			delete(c.rooms, k)
			lost = append(lost, room)
		}
	}
	c.mu.Unlock()
	for _, room := range lost {
		c.log.Warn("cluster: a room hosted here is registered to another node; giving it up", "room_key", roomKey(c.cfg.Secret, room))
		if c.cfg.Lost != nil {
			c.cfg.Lost(room)
		}
	}
}
