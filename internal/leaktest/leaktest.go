// Package leaktest fails a test whose goroutines outlive it, so every test
// that starts servers, peer connections or workers proves they end.
package leaktest

import (
	"bytes"
	"runtime"
	"strings"
	"testing"
	"time"
)

// Wait is how long goroutines get to end after the test.
const Wait = 5 * time.Second

// Check fails t if goroutines started during it are still running Wait
// after it ends. Call it first, so its cleanup runs last, after the test's
// own cleanups have closed what they started.
func Check(t testing.TB) {
	t.Helper()
	before := Stacks()
	t.Cleanup(func() {
		deadline := time.Now().Add(Wait)
		for {
			var leaked []string
			for id, stack := range Stacks() {
				if _, ok := before[id]; !ok && !ignorable(stack) {
					leaked = append(leaked, stack)
				}
			}
			if len(leaked) == 0 {
				return
			}
			if time.Now().After(deadline) {
				t.Errorf("%d goroutines leaked:\n\n%s", len(leaked), strings.Join(leaked, "\n\n"))
				return
			}
			time.Sleep(20 * time.Millisecond)
		}
	})
}

// Stacks maps the id of every running goroutine ("goroutine 12") to its
// stack, for tests that judge leftovers with their own rules.
func Stacks() map[string]string {
	buf := make([]byte, 1<<20)
	for {
		n := runtime.Stack(buf, true)
		if n < len(buf) {
			buf = buf[:n]
			break
		}
		buf = make([]byte, 2*len(buf))
	}
	out := map[string]string{}
	for _, g := range bytes.Split(buf, []byte("\n\n")) {
		head, _, _ := strings.Cut(string(g), " [")
		out[head] = string(g)
	}
	return out
}

// ignorable says whether a stack belongs to the test framework or the
// runtime rather than to code under test.
func ignorable(stack string) bool {
	for _, s := range []string{"testing.tRunner", "testing.(*T).Run", "testing.runFuzzing", "runtime.goexit0", "os/signal.signal_recv"} {
		if strings.Contains(stack, s) && !strings.Contains(stack, "monkeythorn") {
			return true
		}
	}
	return false
}
