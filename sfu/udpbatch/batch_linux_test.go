package udpbatch

import (
	"bytes"
	"testing"

	"golang.org/x/sys/unix"
)

const pmtuDiscDo = unix.IP_PMTUDISC_DO

// noChecksum turns UDP checksums off on s, with which the kernel refuses
// to segment (UDP_SEGMENT needs checksum offload).
func noChecksum(t *testing.T, s *Socket) {
	t.Helper()
	var serr error
	if err := s.rc.Control(func(fd uintptr) {
		serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_NO_CHECK, 1)
	}); err != nil || serr != nil {
		t.Fatalf("SO_NO_CHECK: %v %v", err, serr)
	}
}

func mtuDiscover(t *testing.T, s *Socket) (int, bool) {
	t.Helper()
	var v int
	var serr error
	if err := s.rc.Control(func(fd uintptr) {
		v, serr = unix.GetsockoptInt(int(fd), unix.IPPROTO_IP, unix.IP_MTU_DISCOVER)
	}); err != nil || serr != nil {
		t.Fatalf("IP_MTU_DISCOVER: %v %v", err, serr)
	}
	return v, true
}

// TestBatchFallsBackWhenGSORefused makes the kernel refuse GSO (a socket
// without UDP checksums cannot segment) and checks that every datagram
// still arrives.
func TestBatchFallsBackWhenGSORefused(t *testing.T) {
	s := newSocket(t)
	if !s.GSO() {
		t.Skip("this kernel has no UDP GSO")
	}
	noChecksum(t, s)
	rx := listen(t)
	b := s.NewBatch(16)
	want := frame('c', 5, 900, 300)
	for _, p := range want {
		b.Commit(copy(b.Slot(addrPort(rx)), p))
	}
	b.Flush()
	for i, got := range receive(t, rx, len(want)) {
		if !bytes.Equal(got, want[i]) {
			t.Fatalf("datagram %d: %d bytes, want %d", i, len(got), len(want[i]))
		}
	}
	if st := s.Stats(); st.GSOFallbacks != 1 || st.Datagrams != 5 || st.Errors != 0 {
		t.Fatalf("stats %+v, want one fallback and 5 datagrams", st)
	}
}

func TestDontFragmentIsSet(t *testing.T) {
	s := newSocket(t)
	if v, ok := mtuDiscover(t, s); ok && v != pmtuDiscDo {
		t.Fatalf("IP_MTU_DISCOVER = %d, want %d (don't fragment)", v, pmtuDiscDo)
	}
}

// threadCPU returns the calling thread's CPU time in nanoseconds (user and
// system): on loopback that includes delivering to the receivers.
func threadCPU() int64 {
	var ru unix.Rusage
	if unix.Getrusage(unix.RUSAGE_THREAD, &ru) != nil {
		return 0
	}
	return ru.Utime.Nano() + ru.Stime.Nano()
}
