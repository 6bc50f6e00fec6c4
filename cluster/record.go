package cluster

import (
	"encoding/json"
	"math"
	"net/url"
)

// Records read back from Redis are input like any other: a Redis shared
// with other software, an old node version or a hand edit can leave
// anything there. A record that does not decode into sane values is
// treated as absent, so its TTL ends it and placement never acts on it.

// maxNodeRecord bounds the bytes of a node record worth decoding; ours are
// about a hundred.
const maxNodeRecord = 4 << 10

// decodeNode reads node id's record; ok is false if it is unusable.
func decodeNode(id string, raw []byte) (Node, bool) {
	var n Node
	if len(raw) > maxNodeRecord || json.Unmarshal(raw, &n) != nil {
		return Node{}, false
	}
	if !validNodeURL(n.URL) || n.Load.Participants < 0 || n.Rooms < 0 || n.TTLMs < 0 ||
		math.IsNaN(n.Load.CPU) || n.Load.CPU < 0 || n.Load.CPU > 1 {
		return Node{}, false
	}
	n.ID = id
	return n, true
}

// validNodeURL reports whether u is what Config accepts as a PublicURL:
// clients are redirected there.
func validNodeURL(u string) bool {
	p, err := url.Parse(u)
	return err == nil && p.Host != "" && p.User == nil && (p.Scheme == "http" || p.Scheme == "https")
}

// validNodeID reports whether a room record's owner names a node at all.
func validNodeID(id string) bool { return nodeIDPattern.MatchString(id) }
