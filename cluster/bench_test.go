package cluster

import (
	"context"
	"testing"
	"time"
)

// BenchmarkPlace measures one join's placement cost: "hosted" never touches
// Redis, "remote" is the read path for a room on another node (two GETs over
// loopback), which is what every participant of a remote room pays once.
func BenchmarkPlace(b *testing.B) {
	srv := startRedisB(b)
	mk := func(id string) *Cluster {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		c, err := New(ctx, Config{RedisURL: srv.url(), Secret: testSecret, NodeID: id, PublicURL: nodeURL(id)})
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { c.Close() })
		return c
	}
	a, other := mk("a"), mk("b")
	ctx := context.Background()
	if p, err := a.Place(ctx, "bench"); err != nil || !p.Local {
		b.Fatalf("Place = %+v, %v", p, err)
	}
	a.RoomOpened("bench")
	for _, bc := range []struct {
		name string
		c    *Cluster
	}{{"hosted", a}, {"remote", other}} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := bc.c.Place(ctx, "bench"); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
