package metrics

// The collector reads plain numbers from the parts of a node through the
// functions in Config; the server adapts each part's own statistics to
// these types, so this package imports none of the packages it observes.

// Media is the SFU's side: rooms, forwarding and its socket.
type Media struct {
	Rooms, Participants, Tracks int

	PacketsForwarded, BytesForwarded uint64
	// Drops counts packets not forwarded to a subscriber, by reason. The
	// keys are the SFU's fixed enumeration of reasons (never an identity);
	// the server fills in every reason, zeros included.
	Drops         map[string]uint64
	NACKsReceived uint64 // sequence numbers subscribers asked for
	Retransmits   uint64 // answered from the cache
	// RetransmitBytes are their payload bytes; RetransmitsSkipped the
	// NACKed packets not resent, by reason (too_old, over_budget).
	RetransmitBytes    uint64
	RetransmitsSkipped map[string]uint64
	// Liveness counts what silent subscribers led to, by reason
	// (video_paused, audio_paused, resumed, removed).
	Liveness  map[string]uint64
	NACKsSent uint64 // sequence numbers asked of publishers
	// PLIs counts key frame requests sent to publishers, by reason (the
	// SFU's fixed enumeration, as for Drops); PLIsHeld those not sent
	// because the layer was asked moments before.
	PLIs     map[string]uint64
	PLIsHeld uint64
	// ReceiveDrops counts received packets dropped before the reader
	// forwarded them: "late" (waited longer than the SFU's bound in the
	// receive queue: the server could not keep up) or "full" (pushed out
	// of a full queue). Fixed keys, zeros included.
	ReceiveDrops map[string]uint64
	// RED counts Opus RED packets forwarded, by what the subscriber got:
	// "red", or "opus" (the primary block alone, for a subscriber without
	// RED). Fixed keys, zeros included.
	RED map[string]uint64
	// Estimates counts bandwidth estimates applied to subscribers' video,
	// by source: "transport_cc" (the SFU's own, from transport-wide
	// feedback) or "remb" (the browser's). Fixed keys, zeros included.
	Estimates map[string]uint64

	SocketPackets, SocketSyscalls, SocketErrors uint64
	SocketGSODatagrams                          uint64 // sent inside UDP GSO sends

	// ForwardDelay is how long after the SFU read a frame's first packet
	// the last subscriber's copy left, one observation per fan-out (a
	// frame, or each part of one the frame hold let go separately). A
	// source that has no histogram leaves it empty, and it is not
	// exported; the SFU always fills it, zeros included.
	ForwardDelay Histogram
}

// Histogram is a histogram of durations.
type Histogram struct {
	Bounds []float64 // the buckets' upper bounds in seconds, ascending
	Counts []uint64  // per bucket, not cumulative; len(Bounds)+1, the last beyond every bound
	Sum    float64   // seconds
}

// Signaling is the WebSocket side.
type Signaling struct {
	Sessions                    int
	AcceptedJoins, RefusedJoins int64
	SlowClients, BadMessages    int64
}

// TURN is the embedded TURN server's side.
type TURN struct {
	Allocations int
	// Refused counts requests or datagrams refused, by reason: a fixed
	// enumeration, as for Media.Drops.
	Refused map[string]uint64
}
