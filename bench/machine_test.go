package bench

import (
	"errors"
	"os"
	"testing"
	"time"
)

func TestParseMachineStat(t *testing.T) {
	tests := []struct {
		name        string
		in          string
		busy, total time.Duration
		wantErr     bool
	}{
		{"two cores", "cpu  100 5 50 800 40 3 2 0 0 0\ncpu0 50 2 25 400 20 1 1 0 0 0\n", 160 * 10 * time.Millisecond, 1000 * 10 * time.Millisecond, false},
		{"guest time not counted twice", "cpu 100 0 0 100 0 0 0 0 70 30\n", 100 * 10 * time.Millisecond, 200 * 10 * time.Millisecond, false},
		{"not the cpu line", "intr 1 2 3 4 5\n", 0, 0, true},
		{"garbage field", "cpu 1 x 3 4 5\n", 0, 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			busy, total, err := ParseMachineStat([]byte(tt.in))
			if (err != nil) != tt.wantErr || !errors.Is(err, ErrProcFormat) && tt.wantErr {
				t.Fatalf("err %v, want error %v", err, tt.wantErr)
			}
			if busy != tt.busy || total != tt.total {
				t.Fatalf("busy %v total %v, want %v %v", busy, total, tt.busy, tt.total)
			}
		})
	}
}

func TestParseCtxSwitches(t *testing.T) {
	in := "Name:\tmeet\nvoluntary_ctxt_switches:\t120\nnonvoluntary_ctxt_switches:\t7\n"
	if n, err := ParseCtxSwitches([]byte(in)); err != nil || n != 127 {
		t.Fatalf("got %d %v, want 127", n, err)
	}
	if _, err := ParseCtxSwitches([]byte("Name:\tmeet\n")); !errors.Is(err, ErrProcFormat) {
		t.Fatalf("no counts: err %v", err)
	}
	if n, err := ProcCtxSwitches(os.Getpid()); err != nil || n <= 0 {
		t.Fatalf("own process: %d %v", n, err)
	}
	if _, _, err := MachineCPU(); err != nil {
		t.Fatal(err)
	}
}

func TestParseUDPRcvbufErrors(t *testing.T) {
	in := "Ip: Forwarding DefaultTTL\nIp: 1 64\nUdp: InDatagrams NoPorts InErrors OutDatagrams RcvbufErrors SndbufErrors\nUdp: 250 7 15 170 12 0\nUdpLite: InDatagrams\nUdpLite: 0\n"
	if n, err := ParseUDPRcvbufErrors([]byte(in)); err != nil || n != 12 {
		t.Fatalf("got %d %v, want 12", n, err)
	}
	if _, err := ParseUDPRcvbufErrors([]byte("Ip: a\nIp: 1\n")); !errors.Is(err, ErrProcFormat) {
		t.Fatalf("no Udp lines: err %v", err)
	}
}
