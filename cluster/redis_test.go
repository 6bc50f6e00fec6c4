package cluster

import (
	"testing"

	"github.com/monkeythorn/meet/cluster/clustertest"
	"github.com/redis/go-redis/v9"
)

// redisServer adapts clustertest.Redis (shared with the server's multi-node
// tests) to the names these tests use.
type redisServer struct{ r *clustertest.Redis }

func startRedis(t *testing.T) *redisServer { return startRedisB(t) }

func startRedisB(t testing.TB) *redisServer {
	t.Helper()
	return &redisServer{clustertest.StartRedis(t)}
}

func (s *redisServer) url() string           { return s.r.URL() }
func (s *redisServer) addr() string          { return s.r.Addr() }
func (s *redisServer) start()                { s.r.Start() }
func (s *redisServer) stop()                 { s.r.Stop() }
func (s *redisServer) client() *redis.Client { return s.r.Client() }
