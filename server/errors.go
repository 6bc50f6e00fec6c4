package server

import "errors"

// ErrConfig means a Config is unusable; the wrapped text says which field.
var ErrConfig = errors.New("server: bad configuration")

// API error codes, the "code" of every JSON error body.
const (
	codeBadRequest  = "bad-request"
	codeTooLarge    = "too-large"
	codeBadRoomCode = "bad-room-code"
	codeMethod      = "method-not-allowed"
	codeNotFound    = "not-found"
	codeUnauth      = "unauthorized"
	codeBadHostKey  = "bad-host-key"
	codeDraining    = "draining"
	codeNotReady    = "not-ready"
	codeInternal    = "internal"
	codeTooMany     = "too-many-requests"
	codeNotInCall   = "not-in-call"
	codeContentType = "unsupported-content-type"
)
