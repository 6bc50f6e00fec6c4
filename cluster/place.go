package cluster

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"
)

// Placement says where a room lives.
type Placement struct {
	Local  bool   // this node hosts (or should now create) the room
	NodeID string // the hosting node
	URL    string // the hosting node's PublicURL; redirect there unless Local
}

// claimAttempts bounds the read-claim loop of Place. Each lost SET NX race
// means another node's claim succeeded, so the next read finds an owner; a
// second retry only happens if that owner died in between.
const claimAttempts = 3

// Place returns the node that hosts room, claiming it for a node chosen by
// the Selector if no live node does. A room hosted here is answered without
// asking Redis, so it keeps working through an outage. When Redis cannot be
// reached Place returns an error wrapping ErrUnavailable, or a local
// placement if Config.FallbackLocal is set.
//
// A host counts as gone when its record has expired, or when its heartbeat
// is Missing: then the room is placed again at once.
func (c *Cluster) Place(ctx context.Context, room string) (Placement, error) {
	return c.placeRoom(ctx, room, false)
}

// PlaceLost is Place for a participant whose connection to the room's host
// ended without the host saying it was draining: a crash, most likely. If
// the host's heartbeat is still fresh, the host is probed (Config.Probe)
// and, if it is certainly gone, the room is placed again now instead of
// two heartbeats later. A participant cannot move a room off a live host
// this way: the probe, not the participant, decides.
func (c *Cluster) PlaceLost(ctx context.Context, room string) (Placement, error) {
	return c.placeRoom(ctx, room, true)
}

func (c *Cluster) placeRoom(ctx context.Context, room string, lost bool) (Placement, error) {
	key := roomKey(c.cfg.Secret, room)
	if c.hosts(key) {
		return c.local(), nil
	}
	if err := c.Ready(); errors.Is(err, ErrSecretMismatch) || errors.Is(err, ErrClosed) {
		return Placement{}, err
	}
	p, err := c.place(ctx, key, lost)
	if err == nil || !errors.Is(err, ErrUnavailable) {
		return p, err
	}
	if ctx.Err() != nil {
		return Placement{}, ctx.Err() // the caller gave up; Redis may be fine
	}
	c.setState(err)
	if c.cfg.FallbackLocal && !c.isDraining() {
		return c.local(), nil
	}
	return Placement{}, fmt.Errorf("%w; new meetings cannot start until it is back (or run with --redis-fallback-local)", err)
}

func (c *Cluster) place(ctx context.Context, key string, lost bool) (Placement, error) {
	for range claimAttempts {
		owner, err := c.rdb.Get(ctx, key).Result()
		switch {
		case errors.Is(err, redis.Nil):
		case err != nil:
			return Placement{}, fmt.Errorf("%w: %v", ErrUnavailable, err)
		case !validNodeID(owner):
			// Not a node id: free the record as for a gone owner.
			if err := releaseRoom.Run(ctx, c.rdb, []string{key}, owner).Err(); err != nil {
				return Placement{}, fmt.Errorf("%w: %v", ErrUnavailable, err)
			}
		case owner == c.cfg.NodeID && !c.isDraining():
			// Another node claimed the room for this one and redirected the
			// participant here.
			return c.local(), nil
		default:
			n, alive, err := c.hostAlive(ctx, owner, lost)
			if err != nil {
				return Placement{}, err
			}
			if alive && owner != c.cfg.NodeID {
				// A draining owner keeps its rooms until they empty.
				return Placement{NodeID: owner, URL: n.URL}, nil
			}
			// The owner is gone (or is this draining node, and the room was
			// never opened): free the record now rather than wait for its
			// TTL, so the room moves at once. Only a record still naming
			// that owner is freed, so of two nodes doing this at once one
			// claims the room below and the other finds that claim.
			if err := releaseRoom.Run(ctx, c.rdb, []string{key}, owner).Err(); err != nil {
				return Placement{}, fmt.Errorf("%w: %v", ErrUnavailable, err)
			}
		}
		nodes, err := c.liveNodes(ctx)
		if err != nil {
			return Placement{}, err
		}
		pick, ok := c.cfg.Selector.Pick(nodes)
		if !ok {
			return Placement{}, fmt.Errorf("%w: %d live nodes, none accepting new meetings", ErrNoNodes, len(nodes))
		}
		won, err := c.rdb.SetNX(ctx, key, pick.ID, c.cfg.TTL).Result()
		if err != nil {
			return Placement{}, fmt.Errorf("%w: %v", ErrUnavailable, err)
		}
		if won {
			if pick.ID == c.cfg.NodeID {
				return c.local(), nil
			}
			return Placement{NodeID: pick.ID, URL: pick.URL}, nil
		}
		// Another node claimed it first: read the winner.
	}
	return Placement{}, fmt.Errorf("%w: room ownership kept changing during placement", ErrUnavailable)
}

// hostAlive reads the record of the node id hosting a room and says
// whether it still hosts: its record exists and its heartbeat is not
// Missing, and, when a participant reported losing it (lost), a probe does
// not find it gone. A node found gone loses its record at once, so no room
// is placed on it and its other rooms move on their next join.
func (c *Cluster) hostAlive(ctx context.Context, id string, lost bool) (Node, bool, error) {
	n, ok, raw, err := c.node(ctx, id)
	if err != nil || !ok {
		return n, false, err
	}
	if !lost || id == c.cfg.NodeID || !c.dueProbe(id) {
		return n, true, nil
	}
	pctx, cancel := context.WithTimeout(ctx, probeTimeout)
	gone := c.cfg.Probe(pctx, n.URL)
	cancel()
	if !gone {
		return n, true, nil
	}
	c.log.Warn("cluster: a participant lost this room's host and it does not answer; placing its rooms again", "host", id)
	if err := forgetNode.Run(ctx, c.rdb, []string{nodeKey(id), keyNodes}, raw, id).Err(); err != nil {
		return Node{}, false, fmt.Errorf("%w: %v", ErrUnavailable, err)
	}
	return n, false, nil
}

// probeEvery is how often one node is probed at most: participants of one
// room report a crash together, and a hostile one may report it over and
// over; a node found alive is taken as alive this long.
const probeEvery = time.Second

// dueProbe reports whether node id may be probed now, and if so records it.
func (c *Cluster) dueProbe(id string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	now := time.Now()
	if last, ok := c.probed[id]; ok && now.Sub(last) < probeEvery {
		return false
	}
	for k, t := range c.probed {
		if now.Sub(t) >= probeEvery {
			delete(c.probed, k) // keeps the map as small as the nodes probed lately
		}
	}
	c.probed[id] = now
	return true
}

// node reads one node's record; ok is false if it has expired, does not
// decode, or its heartbeat is Missing. raw is the record as read.
func (c *Cluster) node(ctx context.Context, id string) (n Node, ok bool, raw string, err error) {
	pipe := c.rdb.Pipeline()
	get := pipe.Get(ctx, nodeKey(id))
	ttl := pipe.PTTL(ctx, nodeKey(id))
	if _, err := pipe.Exec(ctx); err != nil && !errors.Is(err, redis.Nil) {
		return Node{}, false, "", fmt.Errorf("%w: %v", ErrUnavailable, err)
	}
	raw, err = get.Result()
	if err != nil {
		return Node{}, false, "", nil // expired
	}
	n, ok = decodeNode(id, []byte(raw))
	if !ok || c.missing(n, ttl.Val()) {
		return Node{}, false, raw, nil // unreadable or silent: treat as gone
	}
	return n, true, raw, nil
}

// missing reports whether a node's heartbeat is late by Missing, from the
// time its record has left (pttl) and the lifetime it gave the record.
func (c *Cluster) missing(n Node, pttl time.Duration) bool {
	if n.TTLMs <= 0 || pttl < 0 {
		return false // an older node's record, or no expiry: trust the TTL
	}
	age := time.Duration(n.TTLMs)*time.Millisecond - pttl
	return age > c.cfg.Missing
}

// liveNodes returns the nodes that accept new rooms. Ids whose record has
// expired are pruned from the set as a side effect; nodes whose heartbeat
// is Missing are skipped.
func (c *Cluster) liveNodes(ctx context.Context) ([]Node, error) {
	ids, err := c.rdb.SMembers(ctx, keyNodes).Result()
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrUnavailable, err)
	}
	if len(ids) == 0 {
		return nil, nil
	}
	pipe := c.rdb.Pipeline()
	gets := make([]*redis.StringCmd, len(ids))
	ttls := make([]*redis.DurationCmd, len(ids))
	for i, id := range ids {
		gets[i] = pipe.Get(ctx, nodeKey(id))
		ttls[i] = pipe.PTTL(ctx, nodeKey(id))
	}
	if _, err := pipe.Exec(ctx); err != nil && !errors.Is(err, redis.Nil) {
		return nil, fmt.Errorf("%w: %v", ErrUnavailable, err)
	}
	draining := c.isDraining()
	nodes := make([]Node, 0, len(ids))
	var dead []any
	for i, id := range ids {
		s, err := gets[i].Result()
		n, ok := decodeNode(id, []byte(s))
		if err != nil || !ok {
			dead = append(dead, id)
			continue
		}
		if c.missing(n, ttls[i].Val()) && id != c.cfg.NodeID {
			continue
		}
		n.Self = n.ID == c.cfg.NodeID
		// This node's own draining flag is read locally: its record may be
		// a heartbeat behind.
		if n.Draining || (n.Self && draining) {
			continue
		}
		nodes = append(nodes, n)
	}
	if len(dead) > 0 {
		c.rdb.SRem(ctx, keyNodes, dead...) // best effort; the set's TTL bounds any leftovers
	}
	return nodes, nil
}

func (c *Cluster) local() Placement {
	return Placement{Local: true, NodeID: c.cfg.NodeID, URL: c.cfg.PublicURL}
}

func (c *Cluster) isDraining() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.draining
}
