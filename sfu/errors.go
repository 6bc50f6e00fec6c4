package sfu

import "errors"

// Errors returned by the SFU. Callers branch on them with errors.Is.
var (
	ErrClosed       = errors.New("sfu: closed")
	ErrRoomFull     = errors.New("sfu: room is full")
	ErrE2EEMismatch = errors.New("sfu: room encryption does not match")
	ErrDuplicateID  = errors.New("sfu: participant id already in room")
	ErrBadConfig    = errors.New("sfu: bad configuration")
	ErrBadSDP       = errors.New("sfu: bad session description")
	// ErrTooManyTracks: an offer would publish more tracks than
	// Config.MaxTracksPerParticipant or the room's MaxTracksPerRoom.
	ErrTooManyTracks   = errors.New("sfu: too many tracks")
	ErrNotNegotiating  = errors.New("sfu: no offer is waiting for an answer")
	ErrParticipantGone = errors.New("sfu: participant has left")
)

// errNoPath is returned for a packet of a track already sent sealed when
// the connection has no path the fast path can write to (between pairs,
// or a write without a batch on the UDP socket): Pion's SRTP context has
// not followed the track's rollover counter, so the packet is dropped
// (counted as a write error) rather than sent through it.
var errNoPath = errors.New("sfu: no path for sealed track")
