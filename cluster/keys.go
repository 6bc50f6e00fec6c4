package cluster

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"

	"github.com/redis/go-redis/v9"
)

// Key names. The prefix keeps meet's keys apart from anything else in a
// shared Redis; the layout is documented in doc.go.
const (
	keySecret     = "meet:secret"
	keyNodes      = "meet:nodes"
	keyNodePrefix = "meet:node:"
	keyRoomPrefix = "meet:room:"
)

func nodeKey(id string) string { return keyNodePrefix + id }

// roomKey names a room's record by a keyed hash of its code. Keyed with the
// token secret, so someone who can read Redis but lacks the secret cannot
// test guesses of room codes against it; 128 bits leave no practical chance
// of two rooms colliding.
func roomKey(secret []byte, room string) string {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte("meet-cluster-room\x00"))
	m.Write([]byte(room))
	return keyRoomPrefix + hex.EncodeToString(m.Sum(nil)[:16])
}

// Lua scripts run atomically in Redis, which is what makes "check the owner,
// then act" safe against a concurrent claim by another node.
var (
	// keepOrSet sets KEYS[1] to ARGV[1] with TTL ARGV[2] ms unless it
	// holds another value, and returns the value it holds afterwards. It
	// registers or refreshes the secret fingerprint (another value means
	// another secret) and a hosted room's record (another value means
	// another node took the room).
	keepOrSet = redis.NewScript(`
local v = redis.call('GET', KEYS[1])
if v and v ~= ARGV[1] then return v end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return ARGV[1]`)

	// forgetNode deletes a node's record KEYS[1] only if it is still the
	// record ARGV[1] that was read (a node that beat since is alive), and
	// removes the id ARGV[2] from the set KEYS[2].
	forgetNode = redis.NewScript(`
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('DEL', KEYS[1])
  redis.call('SREM', KEYS[2], ARGV[2])
  return 1
end
return 0`)

	// releaseRoom deletes KEYS[1] only if it still names ARGV[1], so a node
	// never deletes a record another node has since claimed.
	releaseRoom = redis.NewScript(`
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0`)
)
