package signaling

// Version is the signaling protocol version carried by join and welcome.
const Version = 1

// MaxMessageSize caps one WebSocket message; larger messages are refused
// with an error message.
const MaxMessageSize = 64 << 10

// PC names one of the participant's two peer connections. Each has a single
// offerer, so the two sides never race to renegotiate (no glare):
// the client offers on "pub" (what it sends) and the server offers on "sub"
// (what it receives).
type PC string

const (
	PCPub PC = "pub"
	PCSub PC = "sub"
)

// Message type names, as sent in the "type" field.
const (
	TypeJoin        = "join"
	TypeWelcome     = "welcome"
	TypeOffer       = "offer"
	TypeAnswer      = "answer"
	TypeCandidate   = "candidate"
	TypeJoined      = "participant-joined"
	TypeLeft        = "participant-left"
	TypeUpdated     = "participant-updated"
	TypePublished   = "track-published"
	TypeUnpublished = "track-unpublished"
	TypeMute        = "mute"
	TypeProfile     = "profile"
	TypeChat        = "chat"
	TypeLayer       = "layer"
	TypeLayers      = "layers"
	TypeEncodings   = "encodings"
	TypeRestartICE  = "restart-ice"
	TypeSpeakers    = "speakers"
	TypeLeave       = "leave"
	TypePing        = "ping"
	TypePong        = "pong"
	TypeError       = "error"
	TypeDrain       = "drain"
	TypeRedirect    = "redirect"
)

// Envelope is decoded first to find the message type.
type Envelope struct {
	Type string `json:"type"`
}

// Join is the first message a client sends; the token is never in the URL.
type Join struct {
	Type    string `json:"type"`
	Version int    `json:"v"`
	Token   string `json:"token"`
	// Profile is the participant's display name sealed with the room's
	// message key (opaque to the server, at most MaxOpaqueSize bytes).
	Profile string `json:"profile,omitempty"`
	// Room, when set, is the room code the client believes it is joining
	// (from its page URL); a token for any other room is refused. Added by
	// the signaling helper.
	Room string `json:"room,omitempty"`
	// RejoinID and RejoinTicket: after a lost connection, the id this
	// client had and the ticket its welcome carried. They let it back in
	// past a lock or lobby it was admitted through (unless it was removed).
	RejoinID     string `json:"rejoinId,omitempty"`
	RejoinTicket string `json:"rejoinTicket,omitempty"`
}

// MaxOpaqueSize caps an encrypted profile or chat payload.
const MaxOpaqueSize = 16 << 10

// ICEServer is one entry of RTCConfiguration.iceServers.
type ICEServer struct {
	URLs       []string `json:"urls"`
	Username   string   `json:"username,omitempty"`
	Credential string   `json:"credential,omitempty"`
}

// ParticipantInfo describes another participant of the room.
type ParticipantInfo struct {
	ID         string      `json:"id"`
	Profile    string      `json:"profile,omitempty"`
	AudioMuted bool        `json:"audioMuted"`
	VideoMuted bool        `json:"videoMuted"`
	HandRaised bool        `json:"handRaised,omitempty"`
	Tracks     []TrackInfo `json:"tracks,omitempty"`
}

// TrackInfo describes a published track. StreamID is the publisher's
// participant id, which is also the msid stream id the subscriber sees.
type TrackInfo struct {
	ID          string `json:"id"`
	Participant string `json:"participant"`
	Kind        string `json:"kind"`   // "audio" or "video"
	Source      string `json:"source"` // "microphone", "camera" or "screen"
	Simulcast   bool   `json:"simulcast,omitempty"`
}

// Welcome answers a successful join.
type Welcome struct {
	Type         string            `json:"type"`
	Version      int               `json:"v"`
	ID           string            `json:"id"` // this participant's id
	E2EE         bool              `json:"e2ee"`
	Participants []ParticipantInfo `json:"participants"`
	ICEServers   []ICEServer       `json:"iceServers,omitempty"`
	// Rejoin is this participant's rejoin ticket (see Join.RejoinTicket).
	Rejoin string `json:"rejoin,omitempty"`
	// Meeting is the host state as this participant joins; RoomState
	// messages update it.
	Meeting *MeetingState `json:"meeting,omitempty"`
	// Lobby is who waits to be let in, for a host (LobbyList updates it).
	Lobby []LobbyEntry `json:"lobby,omitempty"`
}

// TrackSource tells the server what a sending transceiver carries.
type TrackSource struct {
	Mid    string `json:"mid"`
	Source string `json:"source"`
}

// Offer carries an SDP offer: client→server on "pub", server→client on "sub".
type Offer struct {
	Type   string        `json:"type"`
	PC     PC            `json:"pc"`
	SDP    string        `json:"sdp"`
	Tracks []TrackSource `json:"tracks,omitempty"` // client "pub" offers only
}

// Answer carries an SDP answer to the other side's Offer.
type Answer struct {
	Type string `json:"type"`
	PC   PC     `json:"pc"`
	SDP  string `json:"sdp"`
}

// Candidate is one trickled ICE candidate (RTCIceCandidateInit); a nil
// Candidate field means end of candidates.
type Candidate struct {
	Type      string        `json:"type"`
	PC        PC            `json:"pc"`
	Candidate *ICECandidate `json:"candidate"`
}

// ICECandidate mirrors RTCIceCandidateInit.
type ICECandidate struct {
	Candidate        string  `json:"candidate"`
	SDPMid           *string `json:"sdpMid,omitempty"`
	SDPMLineIndex    *uint16 `json:"sdpMLineIndex,omitempty"`
	UsernameFragment *string `json:"usernameFragment,omitempty"`
}

// ParticipantJoined announces a new participant to the others.
type ParticipantJoined struct {
	Type        string          `json:"type"`
	Participant ParticipantInfo `json:"participant"`
}

// ParticipantLeft announces that a participant has gone.
type ParticipantLeft struct {
	Type string `json:"type"`
	ID   string `json:"id"`
}

// ParticipantUpdated carries a changed profile or mute state.
type ParticipantUpdated struct {
	Type        string          `json:"type"`
	Participant ParticipantInfo `json:"participant"`
}

// TrackPublished announces a track that the subscriber will receive on its
// "sub" connection with the next server offer.
type TrackPublished struct {
	Type  string    `json:"type"`
	Track TrackInfo `json:"track"`
}

// TrackUnpublished announces that a track has ended.
type TrackUnpublished struct {
	Type        string `json:"type"`
	ID          string `json:"id"`
	Participant string `json:"participant"`
}

// Mute sets the sender's microphone and camera state (client→server); the
// server relays it as ParticipantUpdated.
type Mute struct {
	Type       string `json:"type"`
	AudioMuted bool   `json:"audioMuted"`
	VideoMuted bool   `json:"videoMuted"`
}

// Profile replaces the sender's sealed display name.
type Profile struct {
	Type    string `json:"type"`
	Profile string `json:"profile"`
}

// Chat is a sealed chat message: client→server without From, relayed to
// every other participant with From set. The server never sees clear text.
type Chat struct {
	Type string `json:"type"`
	From string `json:"from,omitempty"`
	Data string `json:"data"`
}

// Layer tells the server how large a subscriber renders a video track, so it
// can pick a simulcast layer. Zero size means not visible (pause).
type Layer struct {
	Type   string `json:"type"`
	Track  string `json:"track"`
	Width  int    `json:"width"`
	Height int    `json:"height"`
}

// Encodings announces the layers a publisher sends on one transceiver (by
// mid): rid ("" when not simulcast), size in pixels and target bit rate.
// The server picks layers for subscribers from it before it has measured
// them. Sent after each pub negotiation and when the capture size changes.
type Encodings struct {
	Type   string          `json:"type"`
	Mid    string          `json:"mid"`
	Layers []EncodingLayer `json:"layers"`
}

// EncodingLayer is one layer of Encodings.
type EncodingLayer struct {
	RID        string `json:"rid,omitempty"`
	Width      int    `json:"width"`
	Height     int    `json:"height"`
	MaxBitrate int    `json:"maxBitrate,omitempty"` // bits per second
}

// RestartICE asks the server for a subscriber offer with new ICE
// credentials: the client's network changed or dropped for a moment. The
// client restarts its publisher connection with its own offer.
type RestartICE struct {
	Type string `json:"type"`
}

// Layers tells a publisher which simulcast layers (by rid) of its track
// (by mid) any subscriber needs; the client sets the other encodings
// inactive so the browser stops encoding them.
type Layers struct {
	Type   string   `json:"type"`
	Mid    string   `json:"mid"`
	Active []string `json:"active"`
}

// Speakers lists the active speakers, loudest first.
type Speakers struct {
	Type string   `json:"type"`
	IDs  []string `json:"ids"`
}

// Leave ends the session cleanly.
type Leave struct {
	Type string `json:"type"`
}

// Ping is a keep-alive; the other side answers with Pong carrying the same T.
type Ping struct {
	Type string `json:"type"`
	T    int64  `json:"t,omitempty"`
}

// Pong answers Ping.
type Pong struct {
	Type string `json:"type"`
	T    int64  `json:"t,omitempty"`
}

// Error reports a problem. Fatal errors are followed by the server closing
// the connection.
type Error struct {
	Type    string `json:"type"`
	Code    string `json:"code"`
	Message string `json:"message"`
	Fatal   bool   `json:"fatal,omitempty"`
}

// Error codes.
const (
	CodeBadMessage    = "bad-message"
	CodeTooLarge      = "too-large"
	CodeUnknownType   = "unknown-type"
	CodeUnauthorized  = "unauthorized"
	CodeNotJoined     = "not-joined"
	CodeRoomFull      = "room-full"
	CodeE2EEMismatch  = "e2ee-mismatch"
	CodeNegotiation   = "negotiation"
	CodeInternal      = "internal"
	CodeDraining      = "draining"
	CodeTooManyErrors = "too-many-errors"
)

// Drain tells clients the server is shutting down.
type Drain struct {
	Type     string `json:"type"`
	Message  string `json:"message"`
	Deadline int64  `json:"deadline"` // unix milliseconds
}

// Redirect sends the client to the node that hosts its room.
type Redirect struct {
	Type string `json:"type"`
	URL  string `json:"url"`
}
