package bench

import "errors"

// Errors callers branch on.
var (
	// ErrBadUnit: a rate, bit rate or sweep could not be parsed.
	ErrBadUnit = errors.New("bench: cannot parse value; use a number with an optional k, M or G suffix, e.g. 2000k or 2M")
	// ErrNotBenchFrame: a frame does not carry the bench marker, so it was
	// not sent by a meet-bench publisher (or was cut short).
	ErrNotBenchFrame = errors.New("bench: not a meet-bench frame")
	// ErrProcFormat: a /proc file did not have the expected layout.
	ErrProcFormat = errors.New("bench: unexpected /proc format")
	// ErrNoMetric: the Prometheus text did not contain the metric.
	ErrNoMetric = errors.New("bench: metric not found")
)
