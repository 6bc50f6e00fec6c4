package ceiling

import "errors"

var (
	// ErrConfig: a Config field is out of range.
	ErrConfig = errors.New("ceiling: bad config")
	// ErrSink: the receiver process did not start or report.
	ErrSink = errors.New("ceiling: receiver process failed")
)
