package cluster

import (
	"context"
	"fmt"
	"log/slog"
)

// RedisLog routes go-redis's own messages (one per failed dial, many during
// an outage) to a slog.Logger at debug level; the Cluster already logs an
// outage once at error level. go-redis keeps its logger in a package
// variable, so only main should install this, once:
//
//	redis.SetLogger(cluster.RedisLog{Logger: logger})
type RedisLog struct{ Logger *slog.Logger }

// Printf implements go-redis's logging interface.
func (l RedisLog) Printf(ctx context.Context, format string, v ...any) {
	if l.Logger == nil || !l.Logger.Enabled(ctx, slog.LevelDebug) {
		return
	}
	l.Logger.DebugContext(ctx, "redis client: "+fmt.Sprintf(format, v...))
}
