package cluster

import (
	"context"
	"errors"
	"github.com/monkeythorn/meet/internal/leaktest"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

func TestConfigRefused(t *testing.T) {
	good := Config{RedisURL: "redis://127.0.0.1:1", Secret: testSecret, NodeID: "a", PublicURL: "https://a.example"}
	tests := []struct {
		name string
		edit func(*Config)
		want string
	}{
		{"no redis url", func(c *Config) { c.RedisURL = "" }, "MEET_REDIS_URL"},
		{"short secret", func(c *Config) { c.Secret = testSecret[:31] }, "need at least 32"},
		{"bad node id", func(c *Config) { c.NodeID = "a b" }, "node id"},
		{"long node id", func(c *Config) { c.NodeID = strings.Repeat("x", 65) }, "node id"},
		{"no public url", func(c *Config) { c.PublicURL = "" }, "public URL"},
		{"relative public url", func(c *Config) { c.PublicURL = "/ws" }, "public URL"},
		{"ws public url", func(c *Config) { c.PublicURL = "ftp://a.example" }, "public URL"},
		{"ttl too short", func(c *Config) { c.TTL, c.Refresh = time.Second, 600*time.Millisecond }, "twice"},
		{"refresh too short", func(c *Config) { c.Refresh = time.Millisecond }, "shorter"},
		{"default ttl under refresh", func(c *Config) { c.Refresh = 4 * time.Second }, "twice"},
		{"unparsable redis url", func(c *Config) { c.RedisURL = "redis://user:hunter2 x@[::1" }, "does not parse"},
		{"bad redis scheme", func(c *Config) { c.RedisURL = "http://127.0.0.1:6379" }, "scheme"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := good
			tt.edit(&cfg)
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			defer cancel()
			c, err := New(ctx, cfg)
			if err == nil {
				c.Close()
				t.Fatal("New accepted a bad config")
			}
			if !errors.Is(err, ErrConfig) {
				t.Errorf("error %v does not wrap ErrConfig", err)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q does not mention %q", err, tt.want)
			}
			if strings.Contains(err.Error(), "hunter2") {
				t.Errorf("error %q leaks the Redis password", err)
			}
		})
	}
}

func TestConfigDefaults(t *testing.T) {
	cfg, err := Config{RedisURL: "redis://x", Secret: testSecret, PublicURL: "http://a:8080"}.withDefaults()
	if err != nil {
		t.Fatal(err)
	}
	if cfg.TTL != DefaultTTL || cfg.Refresh != DefaultRefresh {
		t.Errorf("TTL, Refresh = %v, %v; want %v, %v", cfg.TTL, cfg.Refresh, DefaultTTL, DefaultRefresh)
	}
	if !nodeIDPattern.MatchString(cfg.NodeID) {
		t.Errorf("generated node id %q is not valid", cfg.NodeID)
	}
	other, _ := Config{RedisURL: "redis://x", Secret: testSecret, PublicURL: "http://a:8080"}.withDefaults()
	if other.NodeID == cfg.NodeID {
		t.Errorf("two generated node ids are both %q", cfg.NodeID)
	}
	if _, ok := cfg.Selector.(LeastLoaded); !ok || cfg.Load == nil || cfg.Logger == nil {
		t.Errorf("defaults missing: selector %T, load %v, logger %v", cfg.Selector, cfg.Load != nil, cfg.Logger != nil)
	}
}

func TestRedisUnreachableAtStartup(t *testing.T) {
	leaktest.Check(t)
	srv := startRedis(t)
	srv.stop() // a port nobody listens on now
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, err := New(ctx, Config{RedisURL: srv.url(), Secret: testSecret, PublicURL: "http://127.0.0.1:1", TTL: testTTL, Refresh: testRefresh})
	if !errors.Is(err, ErrUnavailable) || !strings.Contains(err.Error(), "secret cannot be checked") {
		t.Fatalf("New with Redis down: %v; want ErrUnavailable explaining why", err)
	}
}

func TestRedisLogIsDebugOnly(t *testing.T) {
	var buf strings.Builder
	l := RedisLog{Logger: slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelInfo}))}
	l.Printf(context.Background(), "dial %s failed", "127.0.0.1:1")
	if buf.Len() != 0 {
		t.Errorf("logged at info level: %q", buf.String())
	}
	l = RedisLog{Logger: slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))}
	l.Printf(context.Background(), "dial %s failed", "127.0.0.1:1")
	if !strings.Contains(buf.String(), "dial 127.0.0.1:1 failed") || !strings.Contains(buf.String(), "level=DEBUG") {
		t.Errorf("debug log = %q", buf.String())
	}
	// Compiled, never run: go-redis's logger is process-wide.
	_ = func() { redis.SetLogger(RedisLog{}) }
}
