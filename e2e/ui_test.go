package e2e

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"

	"github.com/monkeythorn/meet/web"
)

// recorder keeps every request line and body the server saw, to prove the
// room key never reached it.
type recorder struct {
	mu   sync.Mutex
	seen []string
}

func (r *recorder) wrap(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(io.LimitReader(req.Body, 1<<20))
		req.Body = io.NopCloser(strings.NewReader(string(body)))
		r.mu.Lock()
		r.seen = append(r.seen, req.Method+" "+req.URL.String()+" "+req.Header.Get("Referer")+" "+string(body))
		r.mu.Unlock()
		h.ServeHTTP(w, req)
	})
}

func (r *recorder) contains(s string) string {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, line := range r.seen {
		if strings.Contains(line, s) {
			return line
		}
	}
	return ""
}

// staticServer serves the web client and the E2EE library with a stand-in
// room API: enough for the pages that come before a call.
func staticServer(t *testing.T, rec *recorder) *httptest.Server {
	mux := http.NewServeMux()
	mux.Handle("/", web.Handler())
	mux.HandleFunc("POST /api/rooms", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"code":"abcdefghj"}`)
	})
	srv := httptest.NewServer(rec.wrap(mux))
	t.Cleanup(srv.Close)
	return srv
}

func TestPagesBeforeTheCall(t *testing.T) {
	requireBrowser(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	rec := &recorder{}
	srv := staticServer(t, rec)
	b := newBrowser(t, ctx)
	shots := screenshotDir()

	t.Run("new meeting makes a key that stays in the fragment", func(t *testing.T) {
		tb := newTab(t, b, "landing", srv.URL+"/")
		tb.waitFor(t, "landing page", `document.querySelector('#new-meeting')`, 10*time.Second)
		tb.screenshot(t, shots, "landing.png")
		if err := chromedp.Do(tb.ctx, chromedp.Click(chromedp.CSS("#new-meeting"))); err != nil {
			t.Fatal(err)
		}
		tb.waitFor(t, "navigated to the room", `location.pathname === '/r/abcdefghj'`, 10*time.Second)
		var hash string
		if err := tb.eval(ctx, "location.hash.slice(1)", &hash); err != nil {
			t.Fatal(err)
		}
		if len(hash) != 22 {
			t.Fatalf("key %q: want 22 base64url characters (128 bits)", hash)
		}
		tb.waitFor(t, "pre-join screen", `document.querySelector('#join-button')`, 10*time.Second)
		if line := rec.contains(hash); line != "" {
			t.Fatalf("the room key reached the server: %s", line)
		}
		tb.waitFor(t, "camera preview", `document.querySelector('.preview-video').videoWidth > 0`, 10*time.Second)
		tb.screenshot(t, shots, "prejoin.png")
	})

	t.Run("two new meetings get different keys", func(t *testing.T) {
		keys := map[string]bool{}
		for i := range 2 {
			tb := newTab(t, b, "landing", srv.URL+"/")
			tb.waitFor(t, "landing page", `document.querySelector('#new-meeting')`, 10*time.Second)
			if err := chromedp.Do(tb.ctx, chromedp.Click(chromedp.CSS("#new-meeting"))); err != nil {
				t.Fatal(err)
			}
			tb.waitFor(t, "navigated", `location.hash.length > 1`, 10*time.Second)
			var hash string
			_ = tb.eval(ctx, "location.hash", &hash)
			keys[hash] = true
			_ = i
		}
		if len(keys) != 2 {
			t.Fatalf("two meetings share a key: %v", keys)
		}
	})

	t.Run("encrypted link without key", func(t *testing.T) {
		tb := newTab(t, b, "nokey", srv.URL+"/r/abcdefghj")
		tb.waitFor(t, "error screen", `meetTest.screen() === 'error'`, 10*time.Second)
		var msg string
		_ = tb.eval(ctx, "document.body.innerText", &msg)
		if !strings.Contains(msg, "missing its key") {
			t.Fatalf("page says %q, want it to say the key is missing", msg)
		}
	})

	t.Run("join by code", func(t *testing.T) {
		tb := newTab(t, b, "joinbox", srv.URL+"/")
		tb.waitFor(t, "landing page", `document.querySelector('#join-input')`, 10*time.Second)
		err := chromedp.Do(tb.ctx,
			chromedp.SendKeys(chromedp.CSS("#join-input"), "abcdefghj#AAECAwQFBgcICQoLDA0ODw"),
			chromedp.Click(chromedp.CSS(".join-form button")))
		if err != nil {
			t.Fatal(err)
		}
		tb.waitFor(t, "navigated to the room", `location.pathname === '/r/abcdefghj' && location.hash === '#AAECAwQFBgcICQoLDA0ODw'`, 10*time.Second)
	})

	t.Run("browser without encoded transforms", func(t *testing.T) {
		tb := newTab(t, b, "noe2ee", "about:blank")
		// Take the Encoded Transform APIs away before any page script runs.
		_, err := chromedp.Call(tb.ctx, page.AddScriptToEvaluateOnNewDocument, page.AddScriptToEvaluateOnNewDocumentParams{
			Source: `delete window.RTCRtpScriptTransform; delete RTCRtpSender.prototype.createEncodedStreams; delete RTCRtpReceiver.prototype.createEncodedStreams;`,
		})
		if err == nil {
			err = chromedp.Do(tb.ctx, chromedp.Navigate(srv.URL+"/r/abcdefghj#AAECAwQFBgcICQoLDA0ODw"))
		}
		if err != nil {
			t.Fatal(err)
		}
		tb.waitFor(t, "error screen", `meetTest.screen() === 'error'`, 10*time.Second)
		var msg string
		_ = tb.eval(ctx, "document.body.innerText", &msg)
		if !strings.Contains(msg, "cannot encrypt") {
			t.Fatalf("page says %q, want it to say the browser cannot encrypt", msg)
		}
	})
}
