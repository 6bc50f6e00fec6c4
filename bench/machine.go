package bench

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// ParseMachineStat returns the busy and total CPU time of all CPUs from
// the "cpu" line of /proc/stat: busy is everything but idle and iowait.
func ParseMachineStat(b []byte) (busy, total time.Duration, err error) {
	line, _, _ := bytes.Cut(b, []byte("\n"))
	f := strings.Fields(string(line))
	if len(f) < 5 || f[0] != "cpu" {
		return 0, 0, fmt.Errorf("%w: /proc/stat starts %q", ErrProcFormat, line)
	}
	var idle, sum uint64
	for i, v := range f[1:] {
		n, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			return 0, 0, fmt.Errorf("%w: /proc/stat field %q", ErrProcFormat, v)
		}
		if i >= 8 {
			break // guest and guest_nice are already in user and nice
		}
		sum += n
		if i == 3 || i == 4 { // idle, iowait
			idle += n
		}
	}
	tick := time.Second / userHZ
	return time.Duration(sum-idle) * tick, time.Duration(sum) * tick, nil
}

// MachineCPU reads ParseMachineStat from /proc/stat.
func MachineCPU() (busy, total time.Duration, err error) {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0, 0, err
	}
	return ParseMachineStat(b)
}

// ParseCtxSwitches returns voluntary plus involuntary context switches
// from a /proc/<pid>/task/<tid>/status file.
func ParseCtxSwitches(b []byte) (int64, error) {
	var n int64
	found := 0
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if !ok || (k != "voluntary_ctxt_switches" && k != "nonvoluntary_ctxt_switches") {
			continue
		}
		c, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
		if err != nil {
			return 0, fmt.Errorf("%w: %s %q", ErrProcFormat, k, v)
		}
		n += c
		found++
	}
	if found != 2 {
		return 0, fmt.Errorf("%w: no context switch counts", ErrProcFormat)
	}
	return n, nil
}

// ProcCtxSwitches sums the context switches of every thread of pid: a Go
// server's threads hand goroutines to each other, and each hand-off that
// wakes a sleeping thread is a switch.
func ProcCtxSwitches(pid int) (int64, error) {
	tasks, err := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/status", pid))
	if err != nil || len(tasks) == 0 {
		return 0, fmt.Errorf("%w: no threads of %d", ErrProcFormat, pid)
	}
	var n int64
	for _, t := range tasks {
		b, err := os.ReadFile(t)
		if err != nil {
			continue // the thread ended meanwhile
		}
		c, err := ParseCtxSwitches(b)
		if err != nil {
			return 0, err
		}
		n += c
	}
	return n, nil
}

// ParseUDPRcvbufErrors returns the Udp RcvbufErrors counter of
// /proc/net/snmp: datagrams the kernel dropped because the receiving
// socket's buffer was full (a reader that did not get the CPU in time).
func ParseUDPRcvbufErrors(b []byte) (int64, error) {
	var names []string
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) == 0 || f[0] != "Udp:" {
			continue
		}
		if names == nil {
			names = f
			continue
		}
		for i, n := range names {
			if n == "RcvbufErrors" && i < len(f) {
				v, err := strconv.ParseInt(f[i], 10, 64)
				if err != nil {
					return 0, fmt.Errorf("%w: RcvbufErrors %q", ErrProcFormat, f[i])
				}
				return v, nil
			}
		}
		break
	}
	return 0, fmt.Errorf("%w: no Udp RcvbufErrors in snmp", ErrProcFormat)
}

// UDPRcvbufErrors reads ParseUDPRcvbufErrors from /proc/net/snmp (this
// network namespace: every process on loopback).
func UDPRcvbufErrors() (int64, error) {
	b, err := os.ReadFile("/proc/net/snmp")
	if err != nil {
		return 0, err
	}
	return ParseUDPRcvbufErrors(b)
}
