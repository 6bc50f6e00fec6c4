package cluster

import (
	"context"
		"errors"
	"fmt"

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
func (c *Cluster) Place(ctx context.Context, room string) (Placement, error) {
	key := roomKey(c.cfg.Secret, room)
	if c.hosts(key) {
		return c.local(), nil
	}
	if err := c.Ready(); errors.Is(err, ErrSecretMismatch) || errors.Is(err, ErrClosed) {
		return Placement{}, err
	}
	p, err := c.place(ctx, key)
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

func (c *Cluster) place(ctx context.Context, key string) (Placement, error) {
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
			n, ok, err := c.node(ctx, owner)
			if err != nil {
				return Placement{}, err
			}
			if ok && owner != c.cfg.NodeID {
				// A draining owner keeps its rooms until they empty.
				return Placement{NodeID: owner, URL: n.URL}, nil
			}
			// The owner is gone (or is this draining node, and the room was
			// never opened): free the record now rather than wait for its
			// TTL, so the room moves at once.
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

// node reads one node's record; ok is false if it has expired.
func (c *Cluster) node(ctx context.Context, id string) (Node, bool, error) {
	raw, err := c.rdb.Get(ctx, nodeKey(id)).Bytes()
	if errors.Is(err, redis.Nil) {
		return Node{}, false, nil
	}
	if err != nil {
		return Node{}, false, fmt.Errorf("%w: %v", ErrUnavailable, err)
	}
	n, ok := decodeNode(id, raw)
	return n, ok, nil // unreadable: treat as gone, its TTL ends it
}

// liveNodes returns the nodes that accept new rooms. Ids whose record has
// expired are pruned from the set as a side effect.
func (c *Cluster) liveNodes(ctx context.Context) ([]Node, error) {
	ids, err := c.rdb.SMembers(ctx, keyNodes).Result()
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrUnavailable, err)
	}
	if len(ids) == 0 {
		return nil, nil
	}
	keys := make([]string, len(ids))
	for i, id := range ids {
		keys[i] = nodeKey(id)
	}
	vals, err := c.rdb.MGet(ctx, keys...).Result()
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrUnavailable, err)
	}
	draining := c.isDraining()
	nodes := make([]Node, 0, len(ids))
	var dead []any
	for i, v := range vals {
		s, ok := v.(string)
		n, ok := decodeNode(ids[i], []byte(s))
		if !ok {
			dead = append(dead, ids[i])
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
