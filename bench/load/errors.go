package load

import "errors"

var (
	// ErrConfig: a Config field is missing or out of range.
	ErrConfig = errors.New("load: bad config")
	// ErrAPI: the server's HTTP API refused or answered something unexpected.
	ErrAPI = errors.New("load: server API error")
	// ErrSignaling: the WebSocket closed or the server sent an error.
	ErrSignaling = errors.New("load: signaling error")
	// ErrChurnLeak: after a churn soak the emptied server stayed above its
	// baseline by more than the margins.
	ErrChurnLeak = errors.New("load: the server did not return to its baseline after the churn")
	// ErrNoMedia: no subscriber received anything before the set-up time-out.
	ErrNoMedia = errors.New("load: no media arrived; is the server reachable on 127.0.0.1 and does it gather loopback candidates?")
)
