package signaling

import (
	"encoding/json"
	"fmt"
)

// Limits on fields whose size MaxMessageSize alone would leave too loose.
const (
	maxTokenLen     = 4096
	maxTracks       = 32    // transceivers one publisher may describe
	maxMidLen       = 64    // a mid is a short token in practice ("0", "1")
	maxTrackIDLen   = 256   // track ids are SFU-made, short
	maxCandidateLen = 1024  // an ICE candidate line is ~100-200 bytes
	maxDimension    = 16384 // pixels; larger than any screen
	maxEncodings    = 3     // simulcast layers of one track
	maxRIDLen       = 16    // a rid is a short token ("q", "h", "f")
	maxBitrate      = 100_000_000
)

// Decode parses one client→server message into its typed struct (*Join,
// *Offer, *Answer, *Candidate, *Mute, *Profile, *Chat, *Layer, *Leave, *Ping,
// *Pong, or one of the host controls of hostmsg.go) and checks its values. Errors wrap ErrBadMessage, ErrUnknownType
// or ErrTooLarge. Server→client types are unknown here: a client has no
// business sending a welcome.
func Decode(data []byte) (any, error) {
	_, msg, err := decode(data)
	if err != nil {
		return nil, err
	}
	return msg, nil
}

// decode is Decode that also returns the message type, the key of the
// dispatch table.
func decode(data []byte) (string, inbound, error) {
	if len(data) > MaxMessageSize {
		return "", nil, fmt.Errorf("%w: %d bytes, limit %d", ErrTooLarge, len(data), MaxMessageSize)
	}
	var env Envelope
	if err := json.Unmarshal(data, &env); err != nil {
		return "", nil, fmt.Errorf("%w: %v", ErrBadMessage, jsonProblem(err))
	}
	if env.Type == "" {
		return "", nil, fmt.Errorf("%w: no \"type\" field", ErrBadMessage)
	}
	msg := newInbound(env.Type)
	if msg == nil {
		// The type came from the client; quote a bounded prefix only.
		return "", nil, fmt.Errorf("%w: %.32q", ErrUnknownType, env.Type)
	}
	if err := json.Unmarshal(data, msg); err != nil {
		return "", nil, fmt.Errorf("%w: %v", ErrBadMessage, jsonProblem(err))
	}
	if err := msg.validate(); err != nil {
		return "", nil, err
	}
	return env.Type, msg, nil
}

// inbound is a client→server message.
type inbound interface{ validate() error }

// newInbound returns a new zero message of type t, or nil for a type a
// client may not send. A switch rather than a map keeps the table free of
// package-level mutable state.
func newInbound(t string) inbound {
	switch t {
	case TypeJoin:
		return new(Join)
	case TypeOffer:
		return new(Offer)
	case TypeAnswer:
		return new(Answer)
	case TypeCandidate:
		return new(Candidate)
	case TypeMute:
		return new(Mute)
	case TypeProfile:
		return new(Profile)
	case TypeChat:
		return new(Chat)
	case TypeLayer:
		return new(Layer)
	case TypeEncodings:
		return new(Encodings)
	case TypeRestartICE:
		return new(RestartICE)
	case TypeLeave:
		return new(Leave)
	case TypePing:
		return new(Ping)
	case TypePong:
		return new(Pong)
	case TypeHand:
		return new(Hand)
	case TypeRemove:
		return new(Remove)
	case TypeSetLock:
		return new(SetLock)
	case TypeSetLobby:
		return new(SetLobby)
	case TypeAdmit:
		return new(Admit)
	case TypeDeny:
		return new(Deny)
	case TypeMakeHost:
		return new(MakeHost)
	case TypeAskMute:
		return new(AskMute)
	}
	return nil
}

// jsonProblem describes a JSON error without echoing message content, which
// may be a sealed profile or chat.
func jsonProblem(err error) string {
	switch e := err.(type) {
	case *json.SyntaxError:
		return fmt.Sprintf("invalid JSON at byte %d", e.Offset)
	case *json.UnmarshalTypeError:
		if e.Field != "" {
			return fmt.Sprintf("field %q must not be a JSON %s", e.Field, e.Value)
		}
		return fmt.Sprintf("a message must be a JSON object, not %s", e.Value)
	}
	return "invalid JSON"
}
