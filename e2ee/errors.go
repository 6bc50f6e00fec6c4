package e2ee

import "errors"

// Errors returned by this package. Frame errors are distinct so callers can
// count drops by reason; every one of them means "drop the frame".
var (
	// ErrInvalidLinkKey: the link key is not 22 base64url characters (16 bytes).
	ErrInvalidLinkKey = errors.New("e2ee: the link key must be 22 base64url characters; check that the whole invite link was copied")
	// ErrInvalidRoomCode: the room code is not 9 characters of the room alphabet.
	ErrInvalidRoomCode = errors.New("e2ee: invalid room code")
	// ErrInvalidSenderID: a sender id must be 1-64 base64url characters.
	ErrInvalidSenderID = errors.New("e2ee: invalid sender id")
	// ErrUnknownCodec: the codec is not VP8, H.264 or Opus.
	ErrUnknownCodec = errors.New("e2ee: unsupported codec")
	// ErrInvalidKeyIndex: 255 is reserved for SFU-injected frames.
	ErrInvalidKeyIndex = errors.New("e2ee: key index must be 0..254")
	// ErrMalformedFrame: the frame is too short or its trailer is wrong.
	ErrMalformedFrame = errors.New("e2ee: malformed frame")
	// ErrUnknownKeyIndex: the frame was encrypted under a key index this key does not have.
	ErrUnknownKeyIndex = errors.New("e2ee: unknown key index")
	// ErrFrameAuth: AES-GCM authentication failed (wrong key or altered frame).
	ErrFrameAuth = errors.New("e2ee: frame authentication failed")
	// ErrInjectedFrame: a frame under key index 255, which v2 reserves and never accepts.
	ErrInjectedFrame = errors.New("e2ee: frame injected by the server")
	// ErrReplayedFrame: an authentic frame whose IV was seen before (or is too old).
	ErrReplayedFrame = errors.New("e2ee: frame seen before")
	// ErrInvalidSource: a source must be microphone, camera or screen.
	ErrInvalidSource = errors.New("e2ee: source must be microphone, camera or screen")
	// ErrMessageKind: a sealed message of another kind than the one expected.
	ErrMessageKind = errors.New("e2ee: sealed message of another kind")
	// ErrMalformedMessage: a sealed message is not base64url or not of a known version.
	ErrMalformedMessage = errors.New("e2ee: not a sealed message of a known version")
	// ErrMessageAuth: a sealed message was altered or sealed under another key.
	ErrMessageAuth = errors.New("e2ee: message authentication failed (altered, moved to another sender, or sealed with another key)")
)
