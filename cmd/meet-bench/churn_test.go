package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/monkeythorn/meet/bench/load"
)

// TestChurnReturnsToBaseline is the short soak: a real meet process built
// from this tree, with --debug-pprof, 30 s of joins and leaves at 120 a minute
// with 4 in the room, then the emptied server's goroutines, open files and
// heap in use after GC must be back within 5, 3 and 4 MB of where they
// started (meet-bench churn --check). docs/reliability.md has the 10-minute
// run.
func TestChurnReturnsToBaseline(t *testing.T) {
	if testing.Short() {
		t.Skip("a 45 s soak; runs without -short")
	}
	// This tree's server, not whatever bin/meet holds (the build cache
	// makes this a link step after `make build`).
	bin := filepath.Join(t.TempDir(), "meet")
	if out, err := exec.Command("go", "build", "-o", bin, "../meet").CombinedOutput(); err != nil {
		t.Fatalf("go build ../meet: %v\n%s", err, out)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	var stdout, stderr bytes.Buffer
	code := run(ctx, []string{"churn", "--meet-bin", bin, "--rate", "120/min", "--in-room", "4", "--duration", "30s", "--sample", "5s",
		"--settle", "15s", "--out", t.TempDir(), "--check", "--json"}, &stdout, &stderr)
	if code != 0 {
		t.Fatalf("exit %d\n%s", code, stderr.String())
	}
	var res load.ChurnResult
	if err := json.Unmarshal(stdout.Bytes(), &res); err != nil {
		t.Fatalf("stdout is not one JSON result: %v\n%s", err, stdout.String())
	}
	if res.Joins < 50 || len(res.Points) < 5 {
		t.Errorf("%d joins, %d samples: the churn did not run as asked", res.Joins, len(res.Points))
	}
	t.Logf("before %+v\nafter  %+v\njoins %d failed %d p50 %.0f ms p99 %.0f ms", res.Baseline, res.Final, res.Joins, res.Failures, float64(res.JoinP50Ms), float64(res.JoinP99Ms))
}

func TestParsePerMinute(t *testing.T) {
	tests := []struct {
		in   string
		want float64
		ok   bool
	}{
		{"200/min", 200, true}, {"3/s", 180, true}, {"90", 90, true},
		{"0/min", 0, false}, {"x/min", 0, false}, {"5/h", 0, false}, {"-2/s", 0, false},
	}
	for _, tt := range tests {
		got, err := parsePerMinute(tt.in)
		if (err == nil) != tt.ok || got != tt.want {
			t.Errorf("parsePerMinute(%q) = %v, %v", tt.in, got, err)
		}
	}
}
