package main

import (
	"bytes"
	"runtime"
	"strings"
	"testing"
	"time"
)

// checkLeaks fails the test if goroutines started during it are still
// running a few seconds after it ends. Call it first so its cleanup runs
// last, after the test's servers are closed.
func checkLeaks(t *testing.T) {
	t.Helper()
	before := goroutines()
	t.Cleanup(func() {
		deadline := time.Now().Add(5 * time.Second)
		for {
			var leaked []string
			for id, stack := range goroutines() {
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

// goroutines maps goroutine ids ("goroutine 12") to their stacks.
func goroutines() map[string]string {
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

func ignorable(stack string) bool {
	for _, s := range []string{"testing.tRunner", "testing.(*T).Run", "testing.runFuzzing", "runtime.goexit0", "os/signal.signal_recv"} {
		if strings.Contains(stack, s) && !strings.Contains(stack, "monkeythorn") {
			return true
		}
	}
	return false
}
