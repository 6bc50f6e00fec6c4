package main

import (
	"fmt"
	"log/slog"
	"net/url"
	"strconv"

	"github.com/monkeythorn/meet/cluster"
)

// clusterOptions are the multi-node flags (docs/scaling.md); options()
// lists them with the others so --help shows them.
func clusterOptions() []option {
	return []option{
		{"redis", "MEET_REDIS_URL", "", "Redis URL (redis://[user:password@]host:port[/db] or rediss://) shared by all nodes; turns on multi-node mode. Never logged"},
		{"redis-fallback-local", "MEET_REDIS_FALLBACK_LOCAL", "false", "while Redis is unreachable, start new meetings on this node instead of refusing them"},
		{"node-url", "MEET_NODE_URL", "", "with --redis: this node's own public URL (https://node1.meet.example.com); other nodes send participants here"},
		{"node-id", "MEET_NODE_ID", "", "with --redis: this node's name in Redis ([A-Za-z0-9._-], at most 64); empty = random per start"},
	}
}

// clusterFlags are the parsed multi-node settings; RedisURL "" = one node.
type clusterFlags struct {
	RedisURL      string
	NodeURL       string
	NodeID        string
	FallbackLocal bool
}

func parseClusterFlags(v map[string]*string, generatedSecret bool) (clusterFlags, error) {
	c := clusterFlags{RedisURL: *v["redis"], NodeURL: *v["node-url"], NodeID: *v["node-id"]}
	var err error
	if c.FallbackLocal, err = strconv.ParseBool(*v["redis-fallback-local"]); err != nil {
		return c, fmt.Errorf("--redis-fallback-local %q: want true or false", *v["redis-fallback-local"])
	}
	if c.RedisURL == "" {
		if c.NodeURL != "" || c.NodeID != "" || c.FallbackLocal {
			return c, fmt.Errorf("--node-url, --node-id and --redis-fallback-local need --redis (MEET_REDIS_URL)")
		}
		return c, nil
	}
	if generatedSecret {
		// Each dev process makes its own secret, so dev nodes could never
		// agree; say so now rather than fail on the secret check.
		return c, fmt.Errorf("--redis cannot be used with --dev: every node needs the same secret (MEET_SECRET or --secret-file)")
	}
	if u, err := url.Parse(c.RedisURL); err != nil || (u.Scheme != "redis" && u.Scheme != "rediss") || u.Host == "" {
		// Not quoted back: it may hold a password.
		return c, fmt.Errorf("--redis: want redis://[user:password@]host:port[/db] or rediss://…")
	}
	if c.NodeURL == "" {
		return c, fmt.Errorf("--redis needs --node-url (MEET_NODE_URL): this node's own public URL, e.g. https://node1.meet.example.com")
	}
	if u, err := url.Parse(c.NodeURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return c, fmt.Errorf("--node-url %q: want an absolute http:// or https:// URL", c.NodeURL)
	}
	return c, nil
}

// clusterConfig is the server's Cluster setting: nil for a single node.
func (c clusterFlags) clusterConfig(log *slog.Logger) *cluster.Config {
	if c.RedisURL == "" {
		return nil
	}
	return &cluster.Config{
		RedisURL:      c.RedisURL,
		NodeID:        c.NodeID,
		PublicURL:     c.NodeURL,
		FallbackLocal: c.FallbackLocal,
		Logger:        log.With("component", "cluster"),
	}
}
