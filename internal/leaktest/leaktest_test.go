package leaktest

import (
	"strings"
	"testing"
	"time"
)

// recorder catches what Check reports instead of failing this test.
type recorder struct {
	testing.TB
	cleanups []func()
	errs     []string
}

func (r *recorder) Helper()                   {}
func (r *recorder) Cleanup(f func())          { r.cleanups = append(r.cleanups, f) }
func (r *recorder) Errorf(f string, a ...any) { r.errs = append(r.errs, f) }

func (r *recorder) finish() {
	for i := len(r.cleanups) - 1; i >= 0; i-- {
		r.cleanups[i]()
	}
}

func TestCheckFindsLeak(t *testing.T) {
	r := &recorder{TB: t}
	Check(r)
	stop := make(chan struct{})
	go func() { <-stop }()
	done := make(chan struct{})
	go func() { r.finish(); close(done) }()
	select {
	case <-done:
	case <-time.After(2 * Wait):
		t.Fatal("Check did not give up")
	}
	close(stop)
	if len(r.errs) != 1 || !strings.Contains(r.errs[0], "leaked") {
		t.Fatalf("Check reported %q, want one leak", r.errs)
	}
}

func TestCheckPassesWhenGoroutinesEnd(t *testing.T) {
	r := &recorder{TB: t}
	Check(r)
	stop := make(chan struct{})
	go func() { <-stop }()
	close(stop)
	r.finish()
	if len(r.errs) != 0 {
		t.Fatalf("Check reported %q for goroutines that ended", r.errs)
	}
}
