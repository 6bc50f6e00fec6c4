package admission

import (
	"errors"
	"fmt"
	"time"
)

var (
	// ErrConfig means a Config is unusable; the wrapped text says why.
	ErrConfig = errors.New("admission: bad configuration")
	// ErrBadRate means a rate setting does not parse.
	ErrBadRate = errors.New("admission: bad rate")
)

// Refusal is the error of a refused action. Its text is written for the
// person at the client; RetryAfter is how long to wait (0: unknown).
type Refusal struct {
	Limit      Limit
	RetryAfter time.Duration
}

func (r *Refusal) Error() string {
	switch r.Limit {
	case SessionsPerAddr:
		return "too many open connections from your network; close other meeting tabs or try again later"
	case Sessions:
		return "this server is full; try again in a few minutes"
	}
	return fmt.Sprintf("too many requests from your network; try again in %s", retryText(r.RetryAfter))
}

func retryText(d time.Duration) string {
	if d <= time.Second {
		return "a second"
	}
	return d.Round(time.Second).String()
}
