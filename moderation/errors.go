package moderation

import "errors"

// Errors of the host actions. Callers branch on them with errors.Is.
var (
	// ErrNotHost: the actor is not a host of the meeting.
	ErrNotHost = errors.New("moderation: only a host can do that")
	// ErrNoParticipant: the target is not in the meeting (or not waiting,
	// for lobby actions).
	ErrNoParticipant = errors.New("moderation: no such participant")
	// ErrSelf: a host cannot remove itself or hand host rights to itself.
	ErrSelf = errors.New("moderation: not on yourself")
)
