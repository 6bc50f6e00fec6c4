package e2e

import (
	"syscall"
	"testing"
	"time"
)

// TestOpsDrain runs the real binary with a call in progress: SIGTERM makes
// /readyz fail and new joins refused, both participants get the drain
// message, the process keeps serving them and exits 0 once they have left.
func TestOpsDrain(t *testing.T) {
	bin := opsBinary(t)
	p := startMeet(t, nil, bin, append(opsArgs, "--drain-timeout", "60s")...)
	srv := &testServer{URL: p.URL()}
	room := newRoom(t, srv)
	a, b := joinWS(t, p.URL(), room, ""), joinWS(t, p.URL(), room, "")
	if st := httpStatus(t, p.URL()+"/readyz"); st != 200 {
		t.Fatalf("readyz %d before the signal", st)
	}

	p.signal(t, syscall.SIGTERM)
	for _, m := range []*wsMember{a, b} {
		if d := m.next(t, "drain", 5*time.Second); d["message"] == "" {
			t.Errorf("drain message without text: %v", d)
		}
	}
	if st := httpStatus(t, p.URL()+"/readyz"); st != 503 {
		t.Errorf("readyz %d while draining, want 503", st)
	}
	if st := httpStatus(t, p.URL()+"/healthz"); st != 200 {
		t.Errorf("healthz %d while draining, want 200 (alive)", st)
	}
	// The call goes on: the process is still there a while later.
	select {
	case <-p.exited:
		t.Fatalf("exited (%d) with a call in progress", p.code)
	case <-time.After(time.Second):
	}
	a.leave()
	b.leave()
	if code := p.wait(t, 10*time.Second); code != 0 {
		t.Errorf("exit %d after a clean drain, want 0", code)
	}
}

// TestOpsSecondSignal: a second signal during the drain exits at once.
func TestOpsSecondSignal(t *testing.T) {
	bin := opsBinary(t)
	p := startMeet(t, nil, bin, append(opsArgs, "--drain-timeout", "60s")...)
	room := newRoom(t, &testServer{URL: p.URL()})
	m := joinWS(t, p.URL(), room, "")
	p.signal(t, syscall.SIGTERM)
	m.next(t, "drain", 5*time.Second)
	start := time.Now()
	p.signal(t, syscall.SIGINT)
	code := p.wait(t, 3*time.Second)
	if code != 1 {
		t.Errorf("exit %d after the second signal; want 1 (meet's own exit, calls cut)", code)
	}
	t.Logf("exited %d, %v after the second signal", code, time.Since(start).Round(time.Millisecond))
}
