package signaling

import "errors"

// Sentinel errors of the decoder and the Handler. Callers branch on them with
// errors.Is; the wrapped text says what exactly was wrong.
var (
	// ErrBadMessage means a message is not valid JSON, has wrong field
	// types, or has values out of range.
	ErrBadMessage = errors.New("signaling: bad message")
	// ErrUnknownType means the "type" field names no client message.
	ErrUnknownType = errors.New("signaling: unknown message type")
	// ErrTooLarge means a message is larger than MaxMessageSize or an opaque
	// field larger than MaxOpaqueSize.
	ErrTooLarge = errors.New("signaling: message too large")
	// ErrConfig means a Config is unusable.
	ErrConfig = errors.New("signaling: bad configuration")
)

// wireError is an error that goes to the client as an Error message. A
// handler returns one when it knows the code the client should see.
type wireError struct {
	code  string
	msg   string
	fatal bool
}

func (e *wireError) Error() string { return e.code + ": " + e.msg }

func protoErr(code, msg string) error      { return &wireError{code: code, msg: msg} }
func fatalErr(code, msg string) *wireError { return &wireError{code: code, msg: msg, fatal: true} }
