package cluster

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"net/url"
	"regexp"
	"time"

	"github.com/monkeythorn/meet/auth"
)

// Defaults for Config's zero values. A node that dies is forgotten after TTL;
// refreshing several times per TTL means one or two lost refreshes (a slow
// Redis, a GC pause) never drop a live node's rooms.
const (
	DefaultTTL     = 6 * time.Second
	DefaultRefresh = 1500 * time.Millisecond
)

// minRefresh keeps a mistyped Refresh from turning into a busy loop.
const minRefresh = 10 * time.Millisecond

// Config configures New. Zero values take the documented defaults.
type Config struct {
	// RedisURL is redis://[user:password@]host:port[/db] or rediss:// for
	// TLS. Required. It may carry a password, so it is never logged.
	RedisURL string
	// Secret is the token secret every node must share (at least
	// auth.MinSecretLen bytes). It keys the room-code hashes and the
	// fingerprint compared at startup.
	Secret auth.Secret
	// NodeID names this node in Redis: 1-64 of [A-Za-z0-9._-]. Default: a
	// random id, which is right for most deployments because a restarted
	// node starts empty anyway.
	NodeID string
	// PublicURL is where clients reach this node's HTTP/WebSocket endpoint,
	// for example https://node1.meet.example.com. Other nodes redirect
	// participants of rooms hosted here to it. Required.
	PublicURL string
	// TTL is how long a node's and its rooms' records outlive their last
	// refresh: the time a dead node's rooms stay unreachable. Default
	// DefaultTTL; at least twice Refresh.
	TTL time.Duration
	// Refresh is the heartbeat period. Default DefaultRefresh.
	Refresh time.Duration
	// Missing is how late a node's heartbeat may be before other nodes
	// take it for gone and place its rooms again, without waiting for its
	// records to expire. Default two heartbeats (2 × Refresh); between
	// Refresh and TTL. A node that was only slow finds its rooms taken at
	// its next heartbeat and hands their participants over (Lost).
	Missing time.Duration
	// Probe reports whether the node at a public URL is certainly gone:
	// nothing listens there, or the proxy in front of it says its backend
	// is down. It runs when a participant reports losing a room's host
	// (PlaceLost) while the host's heartbeat is still fresh, and must not
	// block longer than ctx allows. An unanswered probe is not proof: the
	// node may be partitioned from this one only. Default HTTPProbe.
	Probe func(ctx context.Context, nodeURL string) (gone bool)
	// FallbackLocal makes Place host new rooms locally while Redis is
	// unreachable instead of failing with ErrUnavailable. Participants of one
	// room who reach different nodes during the outage end up in separate
	// rooms until Redis returns (then Lost resolves the conflict).
	FallbackLocal bool
	// Load reports this node's load for placement. Default: zero load.
	Load func() Load
	// Selector picks the node for a new room. Default LeastLoaded.
	Selector Selector
	// Lost, if set, is called (from the Run goroutine, so it must not block)
	// when a room this node hosts turns out to be registered to another node,
	// which only happens after a Redis outage or a partition. The server
	// should send the room's participants a redirect to Place's answer; this
	// node no longer counts the room as its own.
	Lost func(room string)
	// Logger receives cluster events. Default: discard.
	Logger *slog.Logger
}

var nodeIDPattern = regexp.MustCompile(`^[A-Za-z0-9._-]{1,64}$`)

// withDefaults validates cfg and fills its zero values.
func (cfg Config) withDefaults() (Config, error) {
	if cfg.RedisURL == "" {
		return cfg, fmt.Errorf("%w: no Redis URL (set --redis or MEET_REDIS_URL, e.g. redis://10.0.0.5:6379)", ErrConfig)
	}
	if len(cfg.Secret) < auth.MinSecretLen {
		return cfg, fmt.Errorf("%w: secret is %d bytes, need at least %d and the same on every node", ErrConfig, len(cfg.Secret), auth.MinSecretLen)
	}
	if cfg.NodeID == "" {
		var b [8]byte
		_, _ = rand.Read(b[:]) // crypto/rand.Read never fails on supported platforms
		cfg.NodeID = "node-" + hex.EncodeToString(b[:])
	}
	if !nodeIDPattern.MatchString(cfg.NodeID) {
		return cfg, fmt.Errorf("%w: node id %q must be 1-64 letters, digits, '.', '_' or '-'", ErrConfig, cfg.NodeID)
	}
	u, err := url.Parse(cfg.PublicURL)
	if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
		return cfg, fmt.Errorf("%w: public URL %q must be an absolute http:// or https:// URL that clients can reach", ErrConfig, cfg.PublicURL)
	}
	if cfg.Refresh == 0 {
		cfg.Refresh = DefaultRefresh
	}
	if cfg.TTL == 0 {
		cfg.TTL = DefaultTTL
	}
	if cfg.Refresh < minRefresh {
		return cfg, fmt.Errorf("%w: refresh %v is shorter than %v", ErrConfig, cfg.Refresh, minRefresh)
	}
	if cfg.TTL < 2*cfg.Refresh {
		return cfg, fmt.Errorf("%w: TTL %v must be at least twice the refresh period %v", ErrConfig, cfg.TTL, cfg.Refresh)
	}
	if cfg.Missing == 0 {
		cfg.Missing = 2 * cfg.Refresh
	}
	if cfg.Missing <= cfg.Refresh || cfg.Missing > cfg.TTL {
		return cfg, fmt.Errorf("%w: missing %v must be longer than the refresh period %v and at most the TTL %v", ErrConfig, cfg.Missing, cfg.Refresh, cfg.TTL)
	}
	if cfg.Probe == nil {
		cfg.Probe = HTTPProbe
	}
	if cfg.Load == nil {
		cfg.Load = func() Load { return Load{} }
	}
	if cfg.Selector == nil {
		cfg.Selector = LeastLoaded{}
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	return cfg, nil
}
