package e2e

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"

	"github.com/monkeythorn/meet/web"
)

// frontDoor is a second HTTP listener on the same server whose connections
// the test can cut, WebSockets included, and keep refusing for a while: a
// participant who reached the server through it loses its network without
// the others noticing anything but its absence.
type frontDoor struct {
	URL string
	hs  *httptest.Server

	mu      sync.Mutex
	conns   map[net.Conn]bool
	blocked time.Time // refuse requests until then
}

func newFrontDoor(t *testing.T, srv *testServer) *frontDoor {
	t.Helper()
	fd := &frontDoor{conns: map[net.Conn]bool{}}
	fd.hs = httptest.NewUnstartedServer(srv.rec.wrap(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fd.mu.Lock()
		down := time.Now().Before(fd.blocked)
		fd.mu.Unlock()
		if down {
			// What a dead network looks like to fetch: no answer at all.
			if hj, ok := w.(http.Hijacker); ok {
				if c, _, err := hj.Hijack(); err == nil {
					_ = c.Close()
					return
				}
			}
			http.Error(w, "down", http.StatusServiceUnavailable)
			return
		}
		srv.handler.ServeHTTP(w, r)
	})))
	// Hijacked connections (WebSockets) are no longer tracked by the
	// http.Server, so keep every connection here.
	fd.hs.Config.ConnState = func(c net.Conn, st http.ConnState) {
		fd.mu.Lock()
		defer fd.mu.Unlock()
		switch st {
		case http.StateNew:
			fd.conns[c] = true
		case http.StateClosed:
			delete(fd.conns, c)
		}
	}
	fd.hs.Start()
	fd.URL = fd.hs.URL
	t.Cleanup(func() {
		fd.cut(0)
		fd.hs.Close()
	})
	return fd
}

// cut closes every connection through the door and refuses new ones for d.
func (fd *frontDoor) cut(d time.Duration) {
	fd.mu.Lock()
	fd.blocked = time.Now().Add(d)
	conns := make([]net.Conn, 0, len(fd.conns))
	for c := range fd.conns {
		conns = append(conns, c)
	}
	fd.mu.Unlock()
	for _, c := range conns {
		_ = c.Close()
	}
}

// selfState is meetTest.self() as far as these tests read it.
type selfState struct {
	ID         string `json:"id"`
	Sharing    bool   `json:"sharing"`
	Connection string `json:"connection"`
	Reconnects int    `json:"reconnects"`
	Noise      struct {
		On   bool   `json:"on"`
		Mode string `json:"mode"`
	} `json:"noise"`
	VideoDevice  string `json:"videoDevice"`
	VideoTrackID string `json:"videoTrackId"`
	PubOffers    int    `json:"pubOffers"`
	Encodings    []struct {
		RID    string `json:"rid"`
		Active bool   `json:"active"`
	} `json:"encodings"`
	LayersAsked map[string][]string `json:"layersAsked"`
}

func (m *member) self(t *testing.T) selfState {
	t.Helper()
	var s selfState
	if err := m.eval(context.Background(), `meetTest.self()`, &s); err != nil {
		t.Fatalf("%s: self: %v", m.name, err)
	}
	return s
}

// clickReal clicks sel as the user would: unlike a plain element.click()
// from a script, it runs with a user gesture, which getDisplayMedia
// requires.
func (m *member) clickReal(t *testing.T, sel string) {
	t.Helper()
	c, cancel := context.WithTimeout(m.ctx, 20*time.Second)
	defer cancel()
	yes := true
	gesture := func(p *runtime.EvaluateParams) { p.UserGesture = &yes }
	if _, err := chromedp.Run(c, chromedp.Evaluate[bool](fmt.Sprintf(`(document.querySelector(%q).click(), true)`, sel), gesture)); err != nil {
		t.Fatalf("%s: clicking %s: %v", m.name, sel, err)
	}
}

// meetingURL is an autojoin link through base (the server or a front
// door) with small video and extra query options ("a=1&b=2").
func meetingURL(base, code, name, key, extra string) string {
	q := url.Values{"autojoin": {"1"}, "video": {"low"}}
	if extra != "" {
		more, _ := url.ParseQuery(extra)
		for k, v := range more {
			q[k] = v
		}
	}
	return base + "/r/" + code + "?" + q.Encode() + nameFragment(key, name)
}

// TestMeetingExperience drives the features people reach for during a call
// in one browser session (four tabs at most, small video), so the whole
// run stays short on a shared 2-core machine:
//   - simulcast: the camera goes out as three layers and follows the
//     server's "layers" requests;
//   - screen share: Ann's shared screen is decoded by Bob as a second video
//     track and takes his main stage; stopping restores the grid;
//   - devices: Ann switches camera; Bob keeps decoding, no renegotiation;
//   - noise suppression: on (RNNoise when embedded), off, on again while
//     Bob keeps receiving her audio;
//   - reconnection: Cy's connection is cut and refused for 5 s; he shows
//     "Reconnecting…", comes back without a reload and decodes again
//     within 15 s, and the others see him again;
//   - leaving: the others drop the tile within 5 s.
//
// With MEET_SCREENSHOT_DIR set it also saves the README screenshots.
func TestMeetingExperience(t *testing.T) {
	requireBrowser(t)
	leaks := goroutineBaseline()
	ctx, cancel := context.WithTimeout(context.Background(), 150*time.Second)
	defer cancel()
	srv := startServer(t)
	door := newFrontDoor(t, srv)
	bctx, closeBrowser := context.WithCancel(ctx)
	// Three fake cameras, so there is another one to switch to (the second
	// is a Y16 depth camera no encoder takes; the third is a plain one);
	// the fake UI picks the screen for getDisplayMedia.
	b := newBrowserWith(t, bctx,
		chromedp.Flag("use-fake-device-for-media-stream", "device-count=3"),
		chromedp.Flag("auto-select-desktop-capture-source", "Entire screen"))
	code := newRoom(t, srv)
	key := newKey(t)
	shots := screenshotDir()
	start := time.Now()
	phase := func(name string) { t.Logf("%5.1fs %s", time.Since(start).Seconds(), name) }

	// Ann sends the full-size camera in three layers; the others small video.
	ann := join(t, b, "Ann", meetingURL(srv.URL, code, "Ann", key, "simulcast=1&video=full"))
	bob := join(t, b, "Bob", meetingURL(srv.URL, code, "Bob", key, ""))
	ann.decodes(t, bob, 20, 25*time.Second)
	bob.decodes(t, ann, 20, 25*time.Second)
	phase("two joined")

	// Simulcast: three rids, and the active ones are what the server asked.
	if s := ann.self(t); len(s.Encodings) != 3 || s.Encodings[0].RID != "q" || s.Encodings[1].RID != "h" || s.Encodings[2].RID != "f" {
		t.Errorf("Ann's camera encodings %+v, want rids q, h, f", s.Encodings)
	}
	ann.waitFor(t, "a layers request from the server applied", `(() => {
		const s = meetTest.self();
		const asked = s.layersAsked['1'];
		return asked && s.encodings.length === 3 && s.encodings.every(e => e.active === asked.includes(e.rid));
	})()`, 15*time.Second)
	t.Logf("Ann: server asked for layers %v", ann.self(t).LayersAsked)
	phase("simulcast layers follow the server")

	// Screen share: a real click (a user gesture), then Bob decodes it.
	ann.clickReal(t, "#screen-button")
	ann.waitFor(t, "Ann sharing", `meetTest.self().sharing`, 10*time.Second)
	bob.waitFor(t, "Ann's screen decoded", fmt.Sprintf(
		`(await meetTest.stats())[%q]?.screenFramesDecoded > 10`, ann.id), 20*time.Second)
	bob.waitFor(t, "Ann's screen on Bob's stage", fmt.Sprintf(
		`meetTest.layout().mode === 'stage' && meetTest.layout().stage === %q`, ann.id+":screen"), 5*time.Second)
	bob.keepsReceiving(t, ann)
	phase("screen share decoded")

	// A third and fourth person: the grid of four (with the share on stage
	// first) for the screenshots, through the front door for Cy.
	cy := join(t, b, "Cy", meetingURL(door.URL, code, "Cy", key, ""))
	dee := join(t, b, "Dee", meetingURL(srv.URL, code, "Dee", key, ""))
	cy.decodes(t, ann, 10, 25*time.Second)
	bob.decodes(t, dee, 10, 25*time.Second)
	cy.waitFor(t, "Ann's screen decoded by a late joiner", fmt.Sprintf(
		`(await meetTest.stats())[%q]?.screenFramesDecoded > 5`, ann.id), 20*time.Second)
	bob.screenshot(t, shots, "screenshot-screenshare.png")
	phase("four in the call")

	ann.clickReal(t, "#screen-button")
	bob.waitFor(t, "Ann's screen gone, grid back", fmt.Sprintf(
		`!document.querySelector('.tile[data-key=%q]') && meetTest.layout().mode === 'grid'`, ann.id+":screen"), 10*time.Second)
	bob.keepsReceiving(t, ann)
	if shots != "" {
		for _, m := range []*member{ann, cy, dee} {
			bob.decodes(t, m, 10, 10*time.Second)
		}
		time.Sleep(time.Second) // let the grid settle after the stage left
		bob.screenshot(t, shots, "screenshot-grid.png")
		mobile(t, dee, shots)
	}
	phase("share stopped")

	// Device switch: another fake camera replaces the track on the same
	// sender; no new offer, and Bob keeps decoding.
	before := ann.self(t)
	ann.click(t, "#settings-button")
	ann.waitFor(t, "camera list", `[...document.querySelectorAll('#camera-select option')].some(o => o.text === 'fake_device_2')`, 10*time.Second)
	if err := ann.eval(ctx, `(() => {
		const sel = document.querySelector('#camera-select');
		const other = [...sel.options].find(o => o.text === 'fake_device_2');
		sel.value = other.value;
		sel.dispatchEvent(new Event('change'));
	})()`, nil); err != nil {
		t.Fatal(err)
	}
	ann.waitFor(t, "camera switched", fmt.Sprintf(`meetTest.self().videoDevice !== %q && meetTest.self().videoTrackId !== %q`,
		before.VideoDevice, before.VideoTrackID), 10*time.Second)
	bob.keepsReceiving(t, ann)
	if after := ann.self(t); after.PubOffers != before.PubOffers {
		t.Errorf("switching the camera sent %d new offers, want none (replaceTrack)", after.PubOffers-before.PubOffers)
	}
	phase("camera switched")

	// Noise suppression: on by default, off, on again; the call goes on.
	wantMode := "browser"
	if web.NoiseSuppressorEmbedded() {
		wantMode = "rnnoise"
	}
	if s := ann.self(t); !s.Noise.On || s.Noise.Mode != wantMode {
		t.Errorf("Ann's noise suppression %+v, want on with mode %s", s.Noise, wantMode)
	}
	for _, on := range []bool{false, true} {
		ann.click(t, "#noise-toggle")
		want := "off"
		if on {
			want = wantMode
		}
		ann.waitFor(t, "noise suppression "+want, fmt.Sprintf(`meetTest.self().noise.mode === %q && meetTest.self().noise.on === %v`, want, on), 10*time.Second)
		bob.keepsReceiving(t, ann)
	}
	_ = ann.eval(ctx, `document.querySelector('#settings-dialog .icon-btn').click()`, nil)
	phase("noise suppression toggled")

	// Reconnection: cut Cy off for 5 s.
	oldCy := cy.id
	if err := cy.eval(ctx, `window.__noReload = 1`, nil); err != nil {
		t.Fatal(err)
	}
	door.cut(5 * time.Second)
	cut := time.Now()
	cy.waitFor(t, "Reconnecting… shown", `meetTest.self().connection === 'reconnecting' && document.querySelector('#conn-banner:not([hidden])')?.textContent.includes('Reconnecting')`, 5*time.Second)
	ann.waitFor(t, "Cy's old session gone", fmt.Sprintf(`!meetTest.participants().some(p => p.id === %q)`, oldCy), 10*time.Second)
	cy.waitFor(t, "Cy back in the call", `meetTest.self().connection === 'connected' && meetTest.self().reconnects === 1 && window.__noReload === 1`, 15*time.Second)
	cy.id = cy.self(t).ID
	if cy.id == oldCy {
		t.Errorf("Cy rejoined with his old id")
	}
	cy.decodes(t, ann, 10, 15*time.Second-time.Since(cut))
	ann.decodes(t, cy, 10, 15*time.Second)
	t.Logf("Cy decodes again %.1fs after the cut", time.Since(cut).Seconds())
	phase("reconnected")

	// Leaving: the tile goes within 5 s.
	dee.click(t, "#leave-button")
	for _, m := range []*member{ann, bob, cy} {
		m.waitFor(t, "Dee's tile gone", fmt.Sprintf(`!document.querySelector('.tile[data-id=%q]')`, dee.id), 5*time.Second)
	}
	phase("leaver dropped")

	endCall(t, srv, key, closeBrowser, leaks)
}

// mobile saves a phone-sized screenshot of m (390×844 CSS pixels).
func mobile(t *testing.T, m *member, dir string) {
	t.Helper()
	c, cancel := context.WithTimeout(m.ctx, 10*time.Second)
	defer cancel()
	err := chromedp.Do(c,
		chromedp.EmulateViewport(390, 844, chromedp.EmulateScale(2), chromedp.EmulateMobile),
		chromedp.Sleep(1500*time.Millisecond))
	if err != nil {
		t.Errorf("%s: phone viewport: %v", m.name, err)
		return
	}
	m.screenshot(t, dir, "screenshot-mobile.png")
	_ = chromedp.Do(c, chromedp.ResetViewport())
}
