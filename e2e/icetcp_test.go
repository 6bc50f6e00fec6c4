package e2e

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/monkeythorn/meet/server"
)

// TestCallOverICETCP: a browser that may not use UDP (Chromium's WebRTC IP
// handling policy disable_non_proxied_udp, as some managed desktops set it)
// reaches the SFU over its ICE-TCP port and the call works both ways: the
// SFU seals the media it sends there itself (sfu/egress.go), framed on the
// TCP connection Pion's mux holds, and the browser decrypts and decodes
// it; the E2EE frames inside are the same as over UDP.
func TestCallOverICETCP(t *testing.T) {
	requireBrowser(t)
	leaks := goroutineBaseline()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	port, err := strconv.Atoi(freeTCPPort(t))
	if err != nil {
		t.Fatal(err)
	}
	srv := startServerWith(t, func(c *server.Config) { c.SFU.TCPPort = port })
	bctx, closeB := context.WithCancel(ctx)
	udp := newBrowser(t, bctx)
	// The policy is a preference of the profile (the enterprise policy
	// WebRtcIPHandling sets the same one).
	profile := t.TempDir()
	if err := os.MkdirAll(filepath.Join(profile, "Default"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(profile, "Default", "Preferences"), []byte(`{"webrtc":{"ip_handling_policy":"disable_non_proxied_udp"}}`), 0o600); err != nil {
		t.Fatal(err)
	}
	tcpOnly := newBrowserWith(t, bctx, chromedp.UserDataDir(profile))
	code, key := newRoom(t, srv), newKey(t)

	ann := join(t, udp, "Ann", joinURL(srv, code, "Ann", key, ""))
	bob := join(t, tcpOnly, "Bob", joinURL(srv, code, "Bob", key, ""))
	got := bob.decodes(t, ann, 30, 30*time.Second)
	ann.decodes(t, bob, 30, 30*time.Second)
	var tr struct{ Pub, Sub string }
	if err := bob.eval(ctx, `meetTest.transports()`, &tr); err != nil {
		t.Fatal(err)
	}
	if tr.Pub != "tcp" || tr.Sub != "tcp" {
		t.Errorf("Bob's connections on %+v, want both on tcp (the policy did not keep the browser off UDP)", tr)
	}
	var annTr struct{ Pub, Sub string }
	if err := ann.eval(ctx, `meetTest.transports()`, &annTr); err != nil || annTr.Sub != "udp" {
		t.Errorf("Ann's connections on %+v (%v), want udp", annTr, err)
	}
	if got.DecryptState != "ok" {
		t.Errorf("Bob decrypts Ann's media: %q", got.DecryptState)
	}
	endCall(t, srv, key, closeB, leaks)
}
