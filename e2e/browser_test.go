package e2e

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
	"github.com/monkeythorn/meet/internal/chromium"
)

const chromiumPath = chromium.Path

// requireBrowser fails the test when Chromium is missing, unless the
// developer opted out with MEET_SKIP_BROWSER=1.
func requireBrowser(t *testing.T) {
	t.Helper()
	if _, err := os.Stat(chromiumPath); err != nil {
		if os.Getenv("MEET_SKIP_BROWSER") == "1" {
			t.Skip("MEET_SKIP_BROWSER=1 and no chromium")
		}
		t.Fatalf("%s not found (%v): run make test, it installs chromium", chromiumPath, err)
	}
}

// newBrowser starts one Chromium with its own profile and returns its
// context; tabs are made with newTab. Everything ends with the test.
func newBrowser(t *testing.T, ctx context.Context) context.Context {
	t.Helper()
	return newBrowserWith(t, ctx)
}

// newBrowserWith is newBrowser with extra Chromium options, which override
// the defaults of the same name.
func newBrowserWith(t *testing.T, ctx context.Context, extra ...chromedp.ExecAllocatorOption) context.Context {
	t.Helper()
	requireBrowser(t)
	opts := append(chromium.Options(t.TempDir()),
		// Hidden tabs must keep decoding and running timers like a
		// foreground one: every tab of the test is "someone's screen".
		chromedp.Flag("disable-background-timer-throttling", true),
		chromedp.Flag("disable-renderer-backgrounding", true),
		chromedp.Flag("disable-backgrounding-occluded-windows", true),
		chromedp.WindowSize(1280, 800),
	)
	opts = append(opts, extra...)
	actx, cancelAlloc := chromedp.NewExecAllocator(ctx, opts...)
	bctx, cancelBrowser := chromedp.NewContext(actx)
	// Start the browser now so its failure is reported here.
	if err := chromedp.Do(bctx); err != nil {
		cancelBrowser()
		cancelAlloc()
		t.Fatalf("starting chromium: %v", err)
	}
	t.Cleanup(func() {
		cancelBrowser()
		cancelAlloc()
	})
	return bctx
}

// tab is one browser tab with its console output kept for failure reports.
type tab struct {
	name string
	ctx  context.Context
	logs *logBuffer
}

// newTab opens a tab in browser b and navigates it to url.
func newTab(t *testing.T, b context.Context, name, url string) *tab {
	t.Helper()
	return openTab(t, b, name, url)
}

// openTab is newTab with extra context options (for example
// chromedp.WithNewBrowserContext for a tab with its own storage).
func openTab(t *testing.T, b context.Context, name, url string, opts ...chromedp.ContextOption) *tab {
	t.Helper()
	logs := &logBuffer{}
	ctx, cancel := chromedp.NewContext(b, append(opts, chromedp.WithListener(logs.listen))...)
	t.Cleanup(cancel)
	tb := &tab{name: name, ctx: ctx, logs: logs}
	if err := chromedp.Do(ctx, chromedp.Navigate(url)); err != nil {
		t.Fatalf("%s: navigating to %s: %v", name, url, err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("console of %s:\n%s", name, tb.logs.String())
		}
	})
	return tb
}

// listen keeps console messages and uncaught exceptions of a tab.
func (l *logBuffer) listen(ev any) {
	switch e := ev.(type) {
	case *runtime.EventConsoleAPICalled:
		var parts []string
		for _, a := range e.Args {
			parts = append(parts, strings.Trim(string(a.Value), `"`)+a.Description)
		}
		l.add(string(e.Type) + ": " + strings.Join(parts, " "))
	case *runtime.EventExceptionThrown:
		d := e.ExceptionDetails
		msg := d.Text
		if d.Exception != nil {
			msg += " " + d.Exception.Description
		}
		l.add(fmt.Sprintf("exception at %s:%d: %s", d.URL, d.LineNumber+1, msg))
	}
}

// eval runs a JavaScript expression (awaiting a promise) and decodes its
// JSON value into out.
func (tb *tab) eval(ctx context.Context, expr string, out any) error {
	// Generous: the machine running the tests may be busy with others.
	c, cancel := context.WithTimeout(tb.ctx, 20*time.Second)
	defer cancel()
	stop := context.AfterFunc(ctx, cancel)
	defer stop()
	raw, err := chromedp.Run(c, chromedp.Evaluate[[]byte](expr, chromedp.EvalAwaitPromise))
	if err != nil {
		return fmt.Errorf("%s: evaluating %q: %w", tb.name, expr, err)
	}
	if out == nil {
		return nil
	}
	return json.Unmarshal(raw, out)
}

// waitFor polls expr every 200 ms until it is true or d passes.
func (tb *tab) waitFor(t *testing.T, what, expr string, d time.Duration) {
	t.Helper()
	if err := tb.poll(expr, d); err != nil {
		var state any
		_ = tb.eval(context.Background(), `window.meetTest ? (async () => ({screen: meetTest.screen(), message: meetTest.message(), self: meetTest.self(), participants: meetTest.participants(), stats: await meetTest.stats()}))() : 'no hook'`, &state)
		t.Fatalf("%s: %s: %v\nstate: %+v", tb.name, what, err, state)
	}
}

func (tb *tab) poll(expr string, d time.Duration) error {
	deadline := time.Now().Add(d)
	var lastErr error
	for time.Now().Before(deadline) {
		var ok bool
		if err := tb.eval(context.Background(), "(async () => !!("+expr+"))()", &ok); err != nil {
			lastErr = err
		} else if ok {
			return nil
		}
		time.Sleep(200 * time.Millisecond)
	}
	if lastErr != nil {
		return fmt.Errorf("timed out after %v: %w", d, lastErr)
	}
	return errors.New("timed out after " + d.String())
}

// screenshot saves a PNG of the tab to dir/name when dir is not empty.
func (tb *tab) screenshot(t *testing.T, dir, name string) {
	t.Helper()
	if dir == "" {
		return
	}
	c, cancel := context.WithTimeout(tb.ctx, 15*time.Second)
	defer cancel()
	png, err := chromedp.Run(c, chromedp.CaptureScreenshot())
	if err != nil {
		t.Errorf("%s: screenshot: %v", tb.name, err)
		return
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Errorf("screenshot dir: %v", err)
		return
	}
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, png, 0o644); err != nil {
		t.Errorf("writing screenshot: %v", err)
		return
	}
	t.Logf("screenshot: %s", p)
}

// logBuffer keeps the last console lines of a tab.
type logBuffer struct {
	mu    sync.Mutex
	lines []string
}

func (l *logBuffer) add(s string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.lines) >= 400 {
		l.lines = l.lines[1:]
	}
	l.lines = append(l.lines, s)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Join(l.lines, "\n")
}
