package e2e

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"
)

// TestOpsDrainMovesBrowserCall is the single-node upgrade: SIGTERM during
// a two-tab Chromium call. The tabs leave the draining node at once (drain
// → rejoin with jitter), so the node exits as soon as its room is empty,
// not after --drain-timeout; the test restarts it on the same ports, as
// systemd's Restart= would, and both tabs have media again within 2 s of
// the new process being up.
func TestOpsDrainMovesBrowserCall(t *testing.T) {
	requireBrowser(t)
	bin := opsBinary(t)
	secret := filepath.Join(t.TempDir(), "secret")
	if err := os.WriteFile(secret, []byte(newKey(t)+newKey(t)), 0o600); err != nil {
		t.Fatal(err)
	}
	httpPort, udpPort := freeTCPPort(t), freeUDPPort(t)
	args := []string{"--dev", "--secret-file", secret, "--listen", "127.0.0.1:" + httpPort, "--udp-port", udpPort,
		"--media-ip", "127.0.0.1", "--metrics-listen=", "--log-format", "json", "--drain-timeout", "30s"}
	p1 := startMeet(t, nil, bin, args...)
	srv := &testServer{URL: p1.URL()}

	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	b := newBrowser(t, ctx)
	code, key := newRoom(t, srv), newKey(t)
	ann := join(t, b, "Ann", joinURL(srv, code, "Ann", key, ""))
	bob := join(t, b, "Bob", joinURL(srv, code, "Bob", key, ""))
	ann.decodes(t, bob, 5, 30*time.Second)
	bob.decodes(t, ann, 5, 30*time.Second)

	term := time.Now()
	p1.signal(t, syscall.SIGTERM)
	if c := p1.wait(t, 10*time.Second); c != 0 {
		t.Errorf("draining node exited %d, want 0", c)
	}
	exited := time.Now()
	emptied := logTime(t, p1, "all calls ended")
	p2 := startMeet(t, nil, bin, args...)
	up := time.Now()

	back := map[string]time.Duration{}
	for _, m := range []struct{ self, other *member }{{ann, bob}, {bob, ann}} {
		m.self.waitFor(t, "media from the other tab again, after the restart", fmt.Sprintf(
			`(async () => { const s = await meetTest.stats(); return meetTest.self().reconnects > 0 && `+
				`Object.entries(s).some(([id, x]) => id !== %q && x.framesDecoded > 0 && x.audioPacketsReceived > 0); })()`,
			m.other.id), 20*time.Second)
		back[m.self.name] = time.Since(up)
	}
	// "up" is when the test saw the new node's start line; the tabs may
	// be back in before that, as it polls the log.
	t.Logf("SIGTERM → room empty %v → exit %v; restarted node up %v later; media again %v (Ann) and %v (Bob) after it was up; %v after the old node exited, %v after SIGTERM",
		emptied.Sub(term).Round(time.Millisecond), exited.Sub(term).Round(time.Millisecond), up.Sub(exited).Round(time.Millisecond),
		back["Ann"].Round(time.Millisecond), back["Bob"].Round(time.Millisecond), time.Since(exited).Round(time.Millisecond), time.Since(term).Round(time.Millisecond))
	if d := exited.Sub(emptied); d > 2*time.Second {
		t.Errorf("the node exited %v after its last call ended, want within 2 s", d)
	}
	if d := exited.Sub(term); d > 5*time.Second {
		t.Errorf("the node exited %v after SIGTERM: the tabs did not leave it at once", d)
	}
	for name, d := range back {
		if d > 2*time.Second {
			t.Errorf("%s: media again %v after the restarted node was up, want within 2 s", name, d)
		}
	}
	_ = p2
}

// logTime is the time of the first JSON log line with message msg.
func logTime(t *testing.T, p *meetProc, msg string) time.Time {
	t.Helper()
	for _, m := range p.lines() {
		if m["msg"] == msg {
			s, _ := m["time"].(string)
			at, err := time.Parse(time.RFC3339Nano, s)
			if err != nil {
				t.Fatalf("log line %q: time %q: %v", msg, s, err)
			}
			return at
		}
	}
	t.Fatalf("no %q in meet's log", msg)
	return time.Time{}
}

func freeTCPPort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)
}

func freeUDPPort(t *testing.T) string {
	t.Helper()
	c, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	return strconv.Itoa(c.LocalAddr().(*net.UDPAddr).Port)
}
