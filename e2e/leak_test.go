package e2e

import (
	"strings"
	"testing"
	"time"

	"github.com/monkeythorn/meet/internal/leaktest"
)

// leakCheck finds goroutines of the server (SFU, signaling, Pion) still
// running after Shutdown.
type leakCheck struct{ before map[string]bool }

func goroutineBaseline() leakCheck {
	return leakCheck{before: goroutineIDs()}
}

// ours marks stacks that belong to the server under test.
func ours(stack string) bool {
	return strings.Contains(stack, "monkeythorn/meet/") && !strings.Contains(stack, "monkeythorn/meet/e2e.") ||
		strings.Contains(stack, "github.com/pion/") || strings.Contains(stack, "gorilla/websocket")
}

func (l leakCheck) check(t *testing.T) {
	t.Helper()
	var left []string
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		left = left[:0]
		for id, stack := range leaktest.Stacks() {
			if !l.before[id] && ours(stack) {
				left = append(left, stack)
			}
		}
		if len(left) == 0 {
			return
		}
	}
	t.Errorf("%d server goroutines still running after shutdown; first:\n%s", len(left), left[0])
}

func goroutineIDs() map[string]bool {
	m := map[string]bool{}
	for id := range leaktest.Stacks() {
		m[id] = true
	}
	return m
}
