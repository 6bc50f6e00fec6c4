package e2e

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"sync"
	"testing"
	"time"
)

// firefoxTab is one headless Firefox ESR tab driven through
// e2e/firefox/evalbridge.mjs: it evaluates page expressions like a
// chromedp tab, so a test written for Chromium runs in Firefox as well.
type firefoxTab struct {
	mu     sync.Mutex
	in     io.WriteCloser
	out    *bufio.Scanner
	next   int
	stderr *logBuffer
}

// requireFirefoxBridge fails when Firefox, node or puppeteer is missing,
// unless MEET_SKIP_BROWSER=1.
func requireFirefoxBridge(t *testing.T) {
	t.Helper()
	_, errF := os.Stat(firefoxPath)
	_, errN := exec.LookPath("node")
	_, errP := os.Stat("../node_modules/puppeteer-core/package.json")
	if err := errors.Join(errF, errN, errP); err != nil {
		if os.Getenv("MEET_SKIP_BROWSER") == "1" {
			t.Skipf("MEET_SKIP_BROWSER=1: %v", err)
		}
		t.Fatalf("Firefox tests need %s, node and node_modules/puppeteer-core (make test installs them): %v", firefoxPath, err)
	}
}

// newFirefoxTab starts Firefox on url; it ends with the test.
func newFirefoxTab(t *testing.T, url string) *firefoxTab {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Second)
	cmd := exec.CommandContext(ctx, "node", "firefox/evalbridge.mjs", "--url", url, "--profile", t.TempDir(), "--firefox", firefoxPath)
	cmd.WaitDelay = 5 * time.Second
	ft := &firefoxTab{stderr: &logBuffer{}}
	cmd.Stderr = logWriter{ft.stderr}
	in, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		cancel()
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = in.Close() // the bridge closes Firefox and exits
		_ = cmd.Wait()
		cancel()
		if t.Failed() {
			t.Logf("firefox bridge:\n%s", ft.stderr.String())
		}
	})
	ft.in, ft.out = in, bufio.NewScanner(out)
	ft.out.Buffer(make([]byte, 1<<20), 1<<20)
	if !ft.out.Scan() {
		t.Fatalf("firefox did not start: %v\n%s", ft.out.Err(), ft.stderr.String())
	}
	t.Logf("firefox: %s", ft.out.Text())
	return ft
}

// logWriter keeps a process's output lines in a logBuffer.
type logWriter struct{ l *logBuffer }

func (w logWriter) Write(p []byte) (int, error) {
	w.l.add(string(p))
	return len(p), nil
}

func (ft *firefoxTab) eval(_ context.Context, expr string, out any) error {
	ft.mu.Lock()
	defer ft.mu.Unlock()
	ft.next++
	req, _ := json.Marshal(map[string]any{"id": ft.next, "expr": expr})
	if _, err := ft.in.Write(append(req, '\n')); err != nil {
		return err
	}
	for ft.out.Scan() {
		var r struct {
			ID    int             `json:"id"`
			Value json.RawMessage `json:"value"`
			Error string          `json:"error"`
		}
		if json.Unmarshal(ft.out.Bytes(), &r) != nil || r.ID != ft.next {
			continue
		}
		if r.Error != "" {
			return fmt.Errorf("firefox: evaluating %q: %s", expr, r.Error)
		}
		if out == nil {
			return nil
		}
		return json.Unmarshal(r.Value, out)
	}
	return fmt.Errorf("firefox bridge ended: %v", ft.out.Err())
}

// waitFor polls expr every 200 ms until it is true or d passes.
func (ft *firefoxTab) waitFor(t *testing.T, what, expr string, d time.Duration) {
	t.Helper()
	deadline := time.Now().Add(d)
	var last error
	for time.Now().Before(deadline) {
		var ok bool
		if last = ft.eval(context.Background(), "!!("+expr+")", &ok); last == nil && ok {
			return
		}
		time.Sleep(200 * time.Millisecond)
	}
	var state any
	_ = ft.eval(context.Background(), `window.meetTest ? (async () => ({screen: meetTest.screen(), self: meetTest.self(), participants: meetTest.participants(), stats: await meetTest.stats()}))() : 'no hook'`, &state)
	t.Fatalf("firefox: %s: timed out after %v (%v)\nstate: %+v", what, d, last, state)
}
