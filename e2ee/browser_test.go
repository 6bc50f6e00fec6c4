package e2ee

import (
	"context"
	"fmt"
	"github.com/monkeythorn/meet/internal/leaktest"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/monkeythorn/meet/internal/chromium"
)

const chromiumPath = chromium.Path

// caseResult is what page.js's runCase returns.
type caseResult struct {
	Path          string      `json:"path"`
	FramesDecoded int         `json:"framesDecoded"`
	VideoPackets  int         `json:"videoPackets"`
	Ms            int         `json:"ms"`
	AudioPackets  int         `json:"audioPackets"`
	AudioPeak     float64     `json:"audioPeak"`
	VideoCodec    string      `json:"videoCodec"`
	States        [][2]string `json:"states"`
	Errors        []string    `json:"errors"`
}

// TestBrowserLoopback runs the real e2ee-client in headless Chromium on both
// Encoded Transform paths: two RTCPeerConnections in one page, fake camera
// and microphone, one E2EE worker per side. Same key: video decodes and audio
// flows. Different keys: not one frame reaches the decoder and the receiver
// reports 'failing'. It needs no server of ours, only httptest on loopback.
func TestBrowserLoopback(t *testing.T) {
	if _, err := os.Stat(chromiumPath); err != nil {
		if os.Getenv("MEET_SKIP_BROWSER") == "1" {
			t.Skip("MEET_SKIP_BROWSER=1 and no " + chromiumPath)
		}
		t.Fatalf("%s not found (%v): install it with `apt-get install -y chromium`, or set MEET_SKIP_BROWSER=1 to skip browser tests", chromiumPath, err)
	}
	leaktest.Check(t)

	mux := http.NewServeMux()
	mux.Handle("/e2ee-client/", http.StripPrefix("/e2ee-client/", http.FileServer(http.Dir("../e2ee-client"))))
	mux.Handle("/", http.FileServer(http.Dir("testdata/browser")))
	srv := httptest.NewServer(mux) // listens on 127.0.0.1
	defer srv.Close()

	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	opts := append(chromium.Options(t.TempDir()), chromedp.WindowSize(900, 640))
	actx, acancel := chromedp.NewExecAllocator(ctx, opts...)
	defer acancel()
	bctx, bcancel := chromedp.NewContext(actx, chromedp.WithLogf(t.Logf))
	defer bcancel()

	err := chromedp.Do(bctx,
		chromedp.Navigate(srv.URL+"/index.html"),
		void(chromedp.Poll[bool](`window.pageReady === true`, chromedp.WithPollingTimeout(10*time.Second))),
	)
	if err != nil {
		t.Fatalf("load test page: %v", err)
	}
	support, err := chromedp.Run(bctx, chromedp.Evaluate[map[string]any](`window.support()`))
	if err != nil {
		t.Fatalf("support: %v", err)
	}
	t.Logf("browser support: %v", support)

	for _, path := range []string{"script", "streams"} {
		t.Run(path+"/same-key", func(t *testing.T) {
			r := runCase(t, bctx, path, true)
			if r.Path != path {
				t.Fatalf("E2EE ran on path %q, want %q", r.Path, path)
			}
			if r.FramesDecoded <= 30 {
				t.Errorf("framesDecoded = %d, want > 30", r.FramesDecoded)
			}
			if r.AudioPackets == 0 || r.AudioPeak < 0.01 {
				t.Errorf("audio packets %d, peak %g: want packets and a peak >= 0.01 (the fake microphone beeps)", r.AudioPackets, r.AudioPeak)
			}
			if hasState(r.States, "failing") || !hasState(r.States, "ok") {
				t.Errorf("states %v, want only ok", r.States)
			}
		})
		t.Run(path+"/different-key", func(t *testing.T) {
			r := runCase(t, bctx, path, false)
			if r.VideoPackets == 0 {
				t.Errorf("no video packets: the test did not exercise decryption")
			}
			if r.FramesDecoded != 0 {
				t.Errorf("framesDecoded = %d with the wrong key, want 0", r.FramesDecoded)
			}
			if r.AudioPackets == 0 {
				t.Errorf("no audio packets: the test did not exercise decryption")
			}
			if r.AudioPeak > 0.001 {
				t.Errorf("audio peak %g with the wrong key, want silence", r.AudioPeak)
			}
			if !hasState(r.States, "failing") || hasState(r.States, "ok") {
				t.Errorf("states %v, want failing only", r.States)
			}
		})
	}
	screenshot(t, bctx)
}

// Bounds of one case: media flows at least caseMinMs (wrong key) and at most
// caseMaxMs; the page stops early once the expected outcome is reached.
const (
	caseMinMs = 2500
	caseMaxMs = 10000
)

func runCase(t *testing.T, ctx context.Context, path string, sameKey bool) caseResult {
	t.Helper()
	js := fmt.Sprintf(`window.runCase(%q, %t, %d, %d)`, path, sameKey, caseMinMs, caseMaxMs)
	r, err := chromedp.Run(ctx, chromedp.Evaluate[caseResult](js, chromedp.EvalAwaitPromise))
	if err != nil {
		t.Fatalf("runCase: %v", err)
	}
	t.Logf("%s sameKey=%v: %+v", path, sameKey, r)
	if len(r.Errors) > 0 {
		t.Errorf("worker errors: %v", r.Errors)
	}
	return r
}

// screenshot saves the page (the log of every case) for a person to look at.
func screenshot(t *testing.T, ctx context.Context) {
	shot, err := chromedp.Run(ctx, chromedp.CaptureScreenshot())
	if err != nil {
		t.Fatalf("screenshot: %v", err)
	}
	dir := os.Getenv("MEET_SCREENSHOT_DIR")
	if dir == "" {
		dir = t.TempDir()
	}
	name := filepath.Join(dir, "e2ee-loopback.png")
	if err := os.WriteFile(name, shot, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot: %s (%d bytes)", name, len(shot))
}

func hasState(states [][2]string, want string) bool {
	for _, s := range states {
		if s[1] == want {
			return true
		}
	}
	return false
}

// void drops an action's value so it can run in chromedp.Do.
func void[T any](a chromedp.Action[T]) chromedp.Action[chromedp.Void] {
	return func(ctx context.Context, t *chromedp.Target) (chromedp.Void, error) {
		_, err := a(ctx, t)
		return chromedp.Void{}, err
	}
}
