package main

import (
	"testing"

	"github.com/monkeythorn/meet/internal/leaktest"
)

// checkLeaks fails the test if goroutines it started outlive it; call it
// first so its cleanup runs last.
func checkLeaks(t *testing.T) {
	t.Helper()
	leaktest.Check(t)
}
