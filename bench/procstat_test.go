package bench

import (
	"errors"
	"os"
	"runtime"
	"testing"
	"time"
)

func TestParseProcStat(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want time.Duration
		err  bool
	}{
		{
			"plain",
			"1234 (meet) S 1 1234 1234 0 -1 4194560 1000 0 0 0 250 50 0 0 20 0 12 0 100 2000000 3000 18446744073709551615",
			3 * time.Second,
			false},
		{
			"name with spaces and parens",
			"99 (a (b) c) R 1 99 99 0 -1 0 0 0 0 0 7 3 0 0 20 0 1 0 5 100 10",
			100 * time.Millisecond,
			false},
		{"truncated", "99 (x) R 1 2 3", 0, true},
		{"no name", "99 x R", 0, true},
		{"bad number", "1 (x) S 1 1 1 0 -1 0 0 0 0 0 abc 5 0 0", 0, true},
	}
	for _, tt := range tests {
		got, err := ParseProcStat([]byte(tt.in))
		if tt.err {
			if !errors.Is(err, ErrProcFormat) {
				t.Errorf("%s: got %v, %v; want ErrProcFormat", tt.name, got, err)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("%s: got %v, %v; want %v", tt.name, got, err, tt.want)
		}
	}
}

func TestParseProcStatusRSS(t *testing.T) {
	in := "Name:\tmeet\nVmPeak:\t  900 kB\nVmRSS:\t   20480 kB\nThreads:\t9\n"
	got, err := ParseProcStatusRSS([]byte(in))
	if err != nil || got != 20480*1024 {
		t.Fatalf("got %d, %v; want %d", got, err, 20480*1024)
	}
	for _, bad := range []string{"Name:\tkthread\n", "VmRSS:\t12 MB\n", "VmRSS:\tx kB\n"} {
		if _, err := ParseProcStatusRSS([]byte(bad)); !errors.Is(err, ErrProcFormat) {
			t.Errorf("%q: err = %v, want ErrProcFormat", bad, err)
		}
	}
}

// TestOwnProcess checks the /proc readers and getrusage against this
// process: CPU the test thread burns must show up in all of them. The
// machine is shared, so the loop runs until the thread has used 100 ms of
// CPU (bounded at 10 s of wall time) rather than for a fixed wall time.
func TestOwnProcess(t *testing.T) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	pid := os.Getpid()
	before, err := ProcCPU(pid)
	if err != nil {
		t.Fatal(err)
	}
	self0, thr0 := SelfCPU(), ThreadCPU()
	x := 0
	deadline := time.Now().Add(10 * time.Second)
	for ThreadCPU()-thr0 < 100*time.Millisecond && time.Now().Before(deadline) {
		for i := range 10000 {
			x += i * i
		}
	}
	burnt := ThreadCPU() - thr0
	if burnt < 100*time.Millisecond {
		t.Fatalf("thread used only %v of CPU in 10 s (x=%d)", burnt, x)
	}
	after, err := ProcCPU(pid)
	if err != nil {
		t.Fatal(err)
	}
	// /proc counts in 10 ms ticks, so allow two ticks of rounding.
	if d := after - before; d < burnt-20*time.Millisecond {
		t.Errorf("/proc CPU grew by %v while the thread used %v", d, burnt)
	}
	if d := SelfCPU() - self0; d < burnt {
		t.Errorf("getrusage(SELF) grew by %v while the thread used %v", d, burnt)
	}
	rss, err := ProcRSS(pid)
	if err != nil || rss < 1<<20 {
		t.Errorf("ProcRSS = %d, %v", rss, err)
	}
}

func TestParsePromCPU(t *testing.T) {
	in := "# HELP process_cpu_seconds_total Total user and system CPU time spent in seconds.\n" +
		"# TYPE process_cpu_seconds_total counter\n" +
		"process_cpu_seconds_total_extra 9\n" +
		"process_cpu_seconds_total 12.5\n"
	got, err := ParsePromCPU([]byte(in))
	if err != nil || got != 12500*time.Millisecond {
		t.Fatalf("got %v, %v", got, err)
	}
	if _, err := ParsePromCPU([]byte("go_goroutines 5\n")); !errors.Is(err, ErrNoMetric) {
		t.Errorf("missing metric: err = %v", err)
	}
}
