package signaling

import "fmt"

// Host controls (docs/protocol.md, "Host controls"): the messages by which
// hosts remove participants, lock the meeting, run the lobby, hand over host
// rights and ask people to mute, and by which anyone raises a hand.

// Client→server message types.
const (
	TypeHand     = "hand"
	TypeRemove   = "remove"
	TypeSetLock  = "set-lock"
	TypeSetLobby = "set-lobby"
	TypeAdmit    = "admit"
	TypeDeny     = "deny"
	TypeMakeHost = "make-host"
	TypeAskMute  = "ask-mute"
)

// Server→client message types.
const (
	TypeRoomState   = "room-state"
	TypeLobbyList   = "lobby-list"
	TypeWaiting     = "waiting"
	TypeAdmitted    = "admitted"
	TypeRemoved     = "participant-removed"
	TypeMuteRequest = "mute-request"
)

// Error codes of the host controls.
const (
	// CodeNotHost: a host action from someone who is not a host. Not fatal.
	CodeNotHost = "not-host"
	// CodeNoParticipant: a host action names nobody in the meeting (or,
	// for admit and deny, nobody waiting). Not fatal.
	CodeNoParticipant = "no-participant"
	// CodeLocked: the meeting is locked; fatal at join.
	CodeLocked = "locked"
	// CodeRemoved: a host removed this participant, or this id was removed
	// earlier; fatal.
	CodeRemoved = "removed"
	// CodeDenied: a host did not let this participant in from the lobby;
	// fatal.
	CodeDenied = "denied"
	// CodeLobbyFull: too many are waiting in the lobby; fatal at join.
	CodeLobbyFull = "lobby-full"
)

// Messages people see when they cannot get in, in one place: the browser
// shows them as they are and docs/protocol.md quotes them.
const (
	MsgLocked    = "This meeting is locked: the host is not letting anyone new in. Ask the host to unlock it, then try again."
	MsgRemoved   = "The host removed you from this meeting. You cannot rejoin it."
	MsgDenied    = "The host did not let you in to this meeting."
	MsgLobbyFull = "Too many people are waiting to be let in to this meeting. Try again later."
	// MsgEnded goes to those still waiting in the lobby when the last
	// participant leaves: the meeting and its rules are gone.
	MsgEnded = "Everyone has left this meeting while you were waiting. Join again to start it anew."
)

// maxIDLen bounds a participant id in a host action (ids are 22 characters).
const maxIDLen = 64

// Hand raises or lowers the sender's hand; others see it as handRaised in
// participant-updated.
type Hand struct {
	Type   string `json:"type"`
	Raised bool   `json:"raised"`
}

// Remove (host only) disconnects a participant, or turns away someone
// waiting, and refuses its id for the rest of the meeting.
type Remove struct {
	Type string `json:"type"`
	ID   string `json:"id"`
}

// SetLock (host only) locks or unlocks the meeting.
type SetLock struct {
	Type   string `json:"type"`
	Locked bool   `json:"locked"`
}

// SetLobby (host only) turns the lobby on or off; off lets everyone
// waiting in.
type SetLobby struct {
	Type    string `json:"type"`
	Enabled bool   `json:"enabled"`
}

// Admit (host only) lets a waiting participant in.
type Admit struct {
	Type string `json:"type"`
	ID   string `json:"id"`
}

// Deny (host only) turns a waiting participant away.
type Deny struct {
	Type string `json:"type"`
	ID   string `json:"id"`
}

// MakeHost (host only) hands the sender's host rights to another
// participant.
type MakeHost struct {
	Type string `json:"type"`
	ID   string `json:"id"`
}

// AskMute (host only) asks one participant (ID) or everyone else (ID "")
// to mute their microphone. The server cannot mute an end-to-end encrypted
// track; the receiver's browser honours the request and says so.
type AskMute struct {
	Type string `json:"type"`
	ID   string `json:"id,omitempty"`
}

// RoomState tells every participant who the hosts are and whether the
// meeting is locked or has its lobby on, whenever that changes (the welcome
// carries it at first).
type RoomState struct {
	Type string `json:"type"`
	MeetingState
}

// MeetingState is the meeting's host state, in RoomState and Welcome.
type MeetingState struct {
	Hosts  []string `json:"hosts"`
	Locked bool     `json:"locked"`
	Lobby  bool     `json:"lobby"`
}

// LobbyEntry is someone waiting to be let in.
type LobbyEntry struct {
	ID      string `json:"id"`
	Profile string `json:"profile,omitempty"` // sealed display name
}

// LobbyList tells the hosts who is waiting, first come first; sent to each
// host on every change and when someone becomes host.
type LobbyList struct {
	Type    string       `json:"type"`
	Waiting []LobbyEntry `json:"waiting"`
}

// Waiting tells a newcomer that it waits in the lobby until a host lets
// it in.
type Waiting struct {
	Type string `json:"type"`
}

// Admitted tells a waiting newcomer it may enter: the client sends its join
// message again on the same connection and gets welcome.
type Admitted struct {
	Type string `json:"type"`
}

// ParticipantRemoved tells the others that a host removed a participant;
// participant-left follows.
type ParticipantRemoved struct {
	Type string `json:"type"`
	ID   string `json:"id"`
	By   string `json:"by"`
}

// MuteRequest asks the receiver to mute its microphone.
type MuteRequest struct {
	Type string `json:"type"`
	From string `json:"from"`
}

func validID(field, id string, required bool) error {
	switch {
	case required && id == "":
		return fmt.Errorf("%w: %s needs a participant id", ErrBadMessage, field)
	case len(id) > maxIDLen:
		return fmt.Errorf("%w: %s longer than %d bytes", ErrBadMessage, field, maxIDLen)
	}
	return nil
}

func (m *Hand) validate() error     { return nil }
func (m *Remove) validate() error   { return validID("id", m.ID, true) }
func (m *SetLock) validate() error  { return nil }
func (m *SetLobby) validate() error { return nil }
func (m *Admit) validate() error    { return validID("id", m.ID, true) }
func (m *Deny) validate() error     { return validID("id", m.ID, true) }
func (m *MakeHost) validate() error { return validID("id", m.ID, true) }
func (m *AskMute) validate() error  { return validID("id", m.ID, false) }
