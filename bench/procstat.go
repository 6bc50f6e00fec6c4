package bench

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// userHZ is the unit of the CPU times in /proc/<pid>/stat. The kernel
// exports them in USER_HZ, which is 100 on every Linux architecture Go
// supports (it is fixed by the ABI, unlike the kernel's internal HZ), so
// there is no need for sysconf(_SC_CLK_TCK) and cgo.
const userHZ = 100

// ParseProcStat returns utime+stime from the contents of /proc/<pid>/stat.
// The command name (field 2) is in parentheses and may itself contain
// spaces and parentheses, so fields are counted from the last ')'.
func ParseProcStat(b []byte) (time.Duration, error) {
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, fmt.Errorf("%w: stat has no command name", ErrProcFormat)
	}
	f := strings.Fields(string(b[i+1:]))
	// f[0] is field 3 (state); utime and stime are fields 14 and 15.
	if len(f) < 13 {
		return 0, fmt.Errorf("%w: stat has %d fields after the name", ErrProcFormat, len(f))
	}
	ut, err1 := strconv.ParseUint(f[11], 10, 64)
	st, err2 := strconv.ParseUint(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, fmt.Errorf("%w: utime %q stime %q", ErrProcFormat, f[11], f[12])
	}
	return time.Duration(ut+st) * time.Second / userHZ, nil
}

// ParseProcStatusRSS returns VmRSS in bytes from /proc/<pid>/status.
func ParseProcStatusRSS(b []byte) (int64, error) {
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		line := sc.Text()
		rest, ok := strings.CutPrefix(line, "VmRSS:")
		if !ok {
			continue
		}
		f := strings.Fields(rest)
		if len(f) != 2 || f[1] != "kB" {
			return 0, fmt.Errorf("%w: VmRSS line %q", ErrProcFormat, line)
		}
		kb, err := strconv.ParseInt(f[0], 10, 64)
		if err != nil {
			return 0, fmt.Errorf("%w: VmRSS line %q", ErrProcFormat, line)
		}
		return kb * 1024, nil
	}
	return 0, fmt.Errorf("%w: no VmRSS line (kernel thread or zombie?)", ErrProcFormat)
}

// ProcCPU is the user+system CPU time process pid has used, from
// /proc/<pid>/stat, in 10 ms steps.
func ProcCPU(pid int) (time.Duration, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	return ParseProcStat(b)
}

// ProcRSS is the resident set size of process pid in bytes.
func ProcRSS(pid int) (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	return ParseProcStatusRSS(b)
}

// SelfCPU is the CPU time (user+system) of this whole process, from
// getrusage, in microseconds rather than /proc's 10 ms ticks.
func SelfCPU() time.Duration { return rusage(unix.RUSAGE_SELF) }

// ThreadCPU is the CPU time of the calling OS thread. Callers lock their
// goroutine to its thread (runtime.LockOSThread) for it to mean anything.
func ThreadCPU() time.Duration { return rusage(unix.RUSAGE_THREAD) }

func rusage(who int) time.Duration {
	var ru unix.Rusage
	if err := unix.Getrusage(who, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// ParsePromCPU finds process_cpu_seconds_total (no labels) in Prometheus
// text exposition format.
func ParsePromCPU(b []byte) (time.Duration, error) {
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		rest, ok := strings.CutPrefix(sc.Text(), "process_cpu_seconds_total")
		if !ok || (rest != "" && rest[0] != ' ') {
			continue
		}
		f := strings.Fields(rest)
		if len(f) < 1 {
			break
		}
		v, err := strconv.ParseFloat(f[0], 64)
		if err != nil {
			return 0, fmt.Errorf("%w: process_cpu_seconds_total %q", ErrNoMetric, f[0])
		}
		return time.Duration(v * float64(time.Second)), nil
	}
	return 0, fmt.Errorf("%w: process_cpu_seconds_total", ErrNoMetric)
}
