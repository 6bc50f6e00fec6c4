package e2e

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/monkeythorn/meet/web"
)

const uiAccessCode = "0AB3C-DEF45-GH7JK-MN8PQ"

// billingStandIn serves the web client with a stand-in of the billing API:
// /api/plans answers 404 (billing off) or two plans, /api/rooms makes a
// paid room when it gets an access code, /api/token refuses (the test only
// looks at what the page sends). The server side of billing is tested
// end to end in server/billing_test.go.
func billingStandIn(t *testing.T, rec *recorder, on *atomic.Bool) *httptest.Server {
	mux := http.NewServeMux()
	mux.Handle("/", web.Handler())
	json := func(w http.ResponseWriter, status int, body string) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		_, _ = io.WriteString(w, body)
	}
	mux.HandleFunc("GET /api/plans", func(w http.ResponseWriter, _ *http.Request) {
		if !on.Load() {
			json(w, 404, `{"error":"no such API endpoint","code":"not-found"}`)
			return
		}
		json(w, 200, `{"billing":true,"plans":[`+
			`{"id":"free","name":"Free","paid":false,"max_participants":8,"max_duration_seconds":3600,"display_price":"Free"},`+
			`{"id":"pro","name":"Pro","paid":true,"max_participants":50,"max_duration_seconds":28800,"display_price":"$8/month"}]}`)
	})
	mux.HandleFunc("POST /api/rooms", func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if strings.Contains(string(body), `"accessCode"`) {
			json(w, 200, `{"code":"paydrmm22","e2ee":true,"plan":{"id":"pro","name":"Pro","maxParticipants":50,"maxDurationSeconds":28800}}`)
			return
		}
		json(w, 200, `{"code":"freerum22","e2ee":true}`)
	})
	mux.HandleFunc("POST /api/token", func(w http.ResponseWriter, _ *http.Request) {
		json(w, 503, `{"error":"stand-in: no calls here","code":"internal"}`)
	})
	srv := httptest.NewServer(rec.wrap(mux))
	t.Cleanup(srv.Close)
	return srv
}

// TestAccessCodeInThePage: the landing page offers "Have an access code?"
// and the plans only when the server sells plans; the code is kept in
// localStorage and sent only to create a paid meeting and to get that
// meeting's token, never in a URL, never for someone else's meeting, and
// never while billing is off.
func TestAccessCodeInThePage(t *testing.T) {
	requireBrowser(t)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	rec := &recorder{}
	var on atomic.Bool
	srv := billingStandIn(t, rec, &on)
	b := newBrowser(t, ctx)
	click := func(tb *tab, sel string) {
		t.Helper()
		if err := chromedp.Do(tb.ctx, chromedp.Click(chromedp.CSS(sel))); err != nil {
			t.Fatalf("%s: click %s: %v", tb.name, sel, err)
		}
	}

	on.Store(true)
	host := newTab(t, b, "host", srv.URL+"/")
	host.waitFor(t, "access-code offer", `!document.querySelector('#billing').hidden && document.querySelector('#access-code summary').textContent === 'Have an access code?'`, 10*time.Second)
	var plans []string
	if err := host.eval(ctx, `[...document.querySelectorAll('.plan-list li')].map(li => li.dataset.plan + ':' + !!li.querySelector('[data-checkout]'))`, &plans); err != nil {
		t.Fatal(err)
	}
	if strings.Join(plans, ",") != "free:false,pro:true" {
		t.Errorf("plans shown %v, want free without and pro with a checkout button", plans)
	}
	click(host, "#access-code summary")
	if err := chromedp.Do(host.ctx, chromedp.SendKeys(chromedp.CSS("#access-code-input"), " "+uiAccessCode+" ")); err != nil {
		t.Fatal(err)
	}
	click(host, "#access-code button[type=submit]")
	host.waitFor(t, "code saved", `localStorage.getItem('meet.accessCode') === '`+uiAccessCode+`'`, 5*time.Second)
	if line := rec.contains(uiAccessCode); line != "" {
		t.Fatalf("saving the code sent it: %s", line)
	}

	click(host, "#new-meeting")
	host.waitFor(t, "in the paid room", `location.pathname === '/r/paydrmm22'`, 10*time.Second)
	if line := rec.contains("POST /api/rooms"); !strings.Contains(line, `"accessCode":"`+uiAccessCode+`"`) {
		t.Errorf("room request %q lacks the code", line)
	}
	host.waitFor(t, "pre-join screen", `document.querySelector('#join-button')`, 10*time.Second)
	typeName(t, host)
	click(host, "#join-button")
	host.waitFor(t, "token asked", `meetTest.screen() === 'error'`, 20*time.Second)
	if line := rec.contains("POST /api/token"); !strings.Contains(line, `"accessCode":"`+uiAccessCode+`"`) || !strings.Contains(line, "paydrmm22") {
		t.Errorf("token request %q lacks the code", line)
	}

	// A guest in the same browser (the code is in localStorage) joining a
	// meeting this tab did not create sends no code.
	guest := newTab(t, b, "guest", srv.URL+"/r/guestmtg2#AAECAwQFBgcICQoLDA0ODw")
	guest.waitFor(t, "pre-join screen", `document.querySelector('#join-button')`, 10*time.Second)
	typeName(t, guest)
	click(guest, "#join-button")
	guest.waitFor(t, "token asked", `meetTest.screen() === 'error'`, 20*time.Second)
	if line := rec.contains("guestmtg2"); line == "" || strings.Contains(line, uiAccessCode) {
		t.Errorf("guest's token request %q: want one without the code", line)
	}

	// Billing turned off: nothing shown, and the saved code is not sent.
	on.Store(false)
	off := newTab(t, b, "off", srv.URL+"/")
	off.waitFor(t, "plans asked", `document.querySelector('#new-meeting')`, 10*time.Second)
	deadline := time.Now().Add(5 * time.Second)
	for strings.Count(strings.Join(recorded(rec), "\n"), "GET /api/plans") < 2 && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	click(off, "#new-meeting")
	off.waitFor(t, "in a free room", `location.pathname === '/r/freerum22'`, 10*time.Second)
	var hidden bool
	if err := off.eval(ctx, `(() => { const p = document.querySelector('#billing'); return !p || p.hidden; })()`, &hidden); err != nil || !hidden {
		t.Errorf("billing panel shown with billing off (%v)", err)
	}
	for _, line := range recorded(rec) {
		method, rest, _ := strings.Cut(line, " ")
		u, _, _ := strings.Cut(rest, " ")
		if strings.Contains(u, uiAccessCode) {
			t.Errorf("the code is in a URL: %s", line)
		}
		if strings.Contains(line, uiAccessCode) && !(method == "POST" && (strings.HasPrefix(u, "/api/rooms") || strings.HasPrefix(u, "/api/token"))) {
			t.Errorf("the code went with %s", line)
		}
	}
	var lastRooms string
	for _, line := range recorded(rec) {
		if strings.HasPrefix(line, "POST /api/rooms") {
			lastRooms = line
		}
	}
	if strings.Contains(lastRooms, uiAccessCode) {
		t.Errorf("the code went with a room request while billing is off: %s", lastRooms)
	}
	if n := strings.Count(strings.Join(recorded(rec), "\n"), uiAccessCode); n != 2 {
		t.Errorf("the code was sent %d times, want 2 (paid room, its token)", n)
	}
}

func typeName(t *testing.T, tb *tab) {
	t.Helper()
	if err := chromedp.Do(tb.ctx, chromedp.SendKeys(chromedp.CSS("#name-input"), "Ann")); err != nil {
		t.Fatalf("%s: name: %v", tb.name, err)
	}
}

// recorded is every request the recorder saw, in order.
func recorded(r *recorder) []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.seen...)
}
