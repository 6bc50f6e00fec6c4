package signaling

import "errors"

// JoinCheck is a rule a join must pass before it reaches the Conference:
// the one decision point above signaling. The server lists its checks in
// Config.Checks (cluster placement, plan terms; a new rule about who may
// join belongs here too) and the session runs them in order after the
// token is verified, before the host rules of hostctl.go (which need the
// session itself, to hold a newcomer in the lobby); the first error
// refuses the join. A check refuses with
// a *RefusedError (the client sees its code and message), a *RedirectError
// (another node hosts the room) or an *UnavailableError; any other error is
// reported as an internal one. A check may also fill in req, for example
// the RoomTerms a room opened by this join gets. Checks must not block for
// long: the client waits for its welcome meanwhile.
//
// Checks see a join before it happens. What happens to membership after
// that (joined, left, room closed) is published by the SFU as typed room
// events (sfu.RoomObserver).
type JoinCheck func(room string, req *JoinRequest) error

// RefusedError is what a JoinCheck returns to refuse a join. Code and
// Message go to the client in a fatal error: Message must say what to do
// next and carry no internal detail.
type RefusedError struct {
	Code    string
	Message string
}

func (e *RefusedError) Error() string { return "signaling: join refused: " + e.Code + ": " + e.Message }

// admit runs the checks of the handler on req.
func (h *Handler) admit(room string, req *JoinRequest) error {
	for _, check := range h.cfg.Checks {
		if err := check(room, req); err != nil {
			return err
		}
	}
	return nil
}

// refusedError turns a check's RefusedError into the client's error.
func refusedError(err error) (*wireError, bool) {
	var re *RefusedError
	if !errors.As(err, &re) {
		return nil, false
	}
	return fatalErr(re.Code, re.Message), true
}
