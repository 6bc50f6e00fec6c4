package cluster

import "errors"

// Sentinel errors. Functions wrap them with %w and a description of what is
// wrong, so callers branch with errors.Is while logs still say why.
var (
	// ErrConfig means a Config is unusable.
	ErrConfig = errors.New("cluster: bad configuration")
	// ErrSecretMismatch means Redis already holds the fingerprint of a
	// different token secret: this node's tokens would be refused by the
	// other nodes, so it must not join.
	ErrSecretMismatch = errors.New("cluster: token secret differs from the other nodes' secret")
	// ErrUnavailable means Redis cannot be reached, so a room that this node
	// does not host cannot be placed.
	ErrUnavailable = errors.New("cluster: redis unavailable")
	// ErrNoNodes means no live node accepts new rooms (all draining or gone).
	ErrNoNodes = errors.New("cluster: no node accepts new rooms")
	// ErrClosed means the Cluster was closed.
	ErrClosed = errors.New("cluster: closed")
)
