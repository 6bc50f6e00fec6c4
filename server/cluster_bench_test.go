package server

import (
	"testing"
	"time"

	"github.com/monkeythorn/meet/cluster/clustertest"
)

// BenchmarkJoin measures join latency as a client sees it: POST /api/token,
// open the WebSocket, join, until the welcome (signaling only; media set-up
// comes after and does not depend on the cluster). The room already has
// one participant unless the case says new room. Loopback Redis and nodes:
// this is the cluster's overhead, not a network figure.
//
//	go test -run '^$' -bench BenchmarkJoin -benchtime 200x ./server/
func BenchmarkJoin(b *testing.B) {
	rds := clustertest.StartRedis(b)
	b.Run("single-node", func(b *testing.B) {
		n := startClusterNode(b, rds, "single", func(c *Config) { c.Cluster, c.PublicURL, c.AllowedOrigins = nil, "", []string{servicePublicURL} })
		room := n.newRoom()
		holdRoom(b, n.ws, n.token(room), room)
		b.ResetTimer()
		for range b.N {
			tr := n.token(room)
			joinOnce(b, tr.WS, tr.Token, room)
		}
	})
	nodes := []*clusterNodeT{startClusterNode(b, rds, "n1", nil), startClusterNode(b, rds, "n2", nil)}
	room := nodes[0].newRoom()
	tr := nodes[0].token(room)
	holdRoom(b, tr.WS, tr, room)
	host, other := nodes[0], nodes[1]
	if other.s.sfu.RoomCount() == 1 {
		host, other = other, host
	}
	b.Run("cluster/token-names-host", func(b *testing.B) {
		for range b.N {
			tr := other.token(room) // the token answer names the host
			joinOnce(b, tr.WS, tr.Token, room)
		}
	})
	b.Run("cluster/redirected", func(b *testing.B) {
		for range b.N {
			tr := other.token(room)
			joinOnce(b, other.ws, tr.Token, room) // wrong node first: one redirect
		}
	})
	b.Run("cluster/new-room", func(b *testing.B) {
		for range b.N {
			b.StopTimer()
			r := other.newRoom()
			b.StartTimer()
			tr := other.token(r) // places (claims) the room
			joinOnce(b, tr.WS, tr.Token, r)
		}
	})
}

func joinOnce(b *testing.B, ws, token, room string) {
	conn, _, _, err := dialJoin(ws, token, room)
	if err != nil {
		b.Fatal(err)
	}
	conn.Close()
}

// holdRoom keeps one participant in room for the benchmark's length.
func holdRoom(b *testing.B, ws string, tr tokenResponse, room string) {
	b.Helper()
	conn, _, _, err := dialJoin(ws, tr.Token, room)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { conn.Close() })
	time.Sleep(10 * time.Millisecond)
}
