// Package poll is the one way tests wait for a condition another goroutine
// (a server, a peer connection, a browser) makes true: poll it, bounded in
// time, and fail the test saying what never happened.
package poll

import (
	"testing"
	"time"
)

// Interval is how often Until checks. Short enough that a test waits
// little past the moment cond holds, long enough not to spin.
const Interval = 10 * time.Millisecond

// Until checks cond every Interval until it holds, and fails t if it does
// not within timeout. It returns how long it waited.
func Until(t testing.TB, timeout time.Duration, what string, cond func() bool) time.Duration {
	t.Helper()
	start := time.Now()
	for !cond() {
		if time.Since(start) > timeout {
			t.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
		time.Sleep(Interval)
	}
	return time.Since(start)
}
