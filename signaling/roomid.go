package signaling

// clearSuffix marks the room of a meeting without end-to-end encryption.
// It cannot occur in a room code.
const clearSuffix = "~clear"

// RoomID is the name a room has in the SFU, the cluster, billing and the
// host controls: the code for an end-to-end encrypted meeting, and the code
// with a suffix for one without. The two are separate rooms, so a join
// whose E2EE flag differs from a live room's lands in an empty room and
// gets a welcome like any first join, instead of an e2ee-mismatch error
// that would tell a prober without the key that the room is in use. The
// browser still refuses a welcome whose flag differs from its link's, and
// nobody can downgrade a call: the clear room never sees the encrypted
// one's participants.
func RoomID(code string, e2ee bool) string {
	if e2ee {
		return code
	}
	return code + clearSuffix
}
