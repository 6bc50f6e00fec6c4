package cluster

// Load is what a node reports about itself in each heartbeat.
type Load struct {
	Participants int     // connected participants across all rooms
	CPU          float64 // process CPU use, 0..1 of the whole machine
}

// Node is a live node as seen in Redis.
type Node struct {
	ID       string `json:"-"`
	URL      string `json:"url"`
	Load     Load   `json:"load"`
	Rooms    int    `json:"rooms"`
	Draining bool   `json:"draining"`
	// TTLMs is the lifetime the node gave its record, so others can tell
	// from the record's remaining time how long ago it last beat (on
	// Redis's clock, so the nodes' clocks do not matter).
	TTLMs int64 `json:"ttl_ms,omitempty"`
	Self  bool  `json:"-"` // the node asking
}

// Selector picks the node for a new room among live nodes that accept rooms
// (never empty, never draining). It returns false to refuse all of them.
type Selector interface {
	Pick(nodes []Node) (Node, bool)
}

// LeastLoaded picks the node with the fewest participants. Ties go to the
// lower CPU, then to the asking node (no redirect needed), then to fewer
// rooms, then to the lower id so every node breaks the remaining ties alike.
//
// Participants come first because forwarding cost grows with them; CPU is
// sampled and noisy, so on its own it would make placements flap.
type LeastLoaded struct{}

// Pick implements Selector.
func (LeastLoaded) Pick(nodes []Node) (Node, bool) {
	if len(nodes) == 0 {
		return Node{}, false
	}
	best := nodes[0]
	for _, n := range nodes[1:] {
		if lessLoaded(n, best) {
			best = n
		}
	}
	return best, true
}

func lessLoaded(a, b Node) bool {
	switch {
	case a.Load.Participants != b.Load.Participants:
		return a.Load.Participants < b.Load.Participants
	case a.Load.CPU != b.Load.CPU:
		return a.Load.CPU < b.Load.CPU
	case a.Self != b.Self:
		return a.Self
	case a.Rooms != b.Rooms:
		return a.Rooms < b.Rooms
	default:
		return a.ID < b.ID
	}
}
