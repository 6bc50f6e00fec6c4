package signaling

// Additions to the wire contract in messages.go (reported to the lead).
const (
	// CodeClosed: the SFU removed the participant (media failed, the
	// server is closing the room). Fatal; the message says why.
	CodeClosed = "closed"
	// CodeDuplicate: the token's participant id is already in the room,
	// i.e. the token was used twice. Fatal; fetch a new token.
	CodeDuplicate = "duplicate"
	// CodeBusy: a limit of the server refused the connection (too many
	// connections or joins from the client's network, or the node is
	// full). Fatal; the message says when to try again.
	CodeBusy = "busy"
	// CodeTooManyTracks: an offer would publish more tracks than one
	// participant or the meeting may have (docs/security.md). Not fatal:
	// the previous tracks keep flowing.
	CodeTooManyTracks = "too-many-tracks"
)
