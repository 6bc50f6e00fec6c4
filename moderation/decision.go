package moderation

// Decision is what Arrive decides about someone who wants to join.
type Decision int

const (
	DecisionUnknown Decision = iota
	// Enter: join now.
	Enter
	// Wait: the lobby is on; wait until a host admits or denies.
	Wait
	// RefusedLocked: the meeting is locked.
	RefusedLocked
	// RefusedRemoved: this participant was removed or denied.
	RefusedRemoved
	// RefusedLobbyFull: too many people are waiting already.
	RefusedLobbyFull
)

func (d Decision) String() string {
	switch d {
	case Enter:
		return "enter"
	case Wait:
		return "wait"
	case RefusedLocked:
		return "refused-locked"
	case RefusedRemoved:
		return "refused-removed"
	case RefusedLobbyFull:
		return "refused-lobby-full"
	}
	return "unknown"
}
