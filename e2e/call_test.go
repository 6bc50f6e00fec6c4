package e2e

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

// member is one tab in a call.
type member struct {
	*tab
	id string
}

func newKey(t *testing.T) string {
	t.Helper()
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

func newRoom(t *testing.T, srv *testServer) string {
	t.Helper()
	res, err := http.Post(srv.URL+"/api/rooms", "application/json", strings.NewReader("{}"))
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var out struct{ Code string }
	if err := json.NewDecoder(res.Body).Decode(&out); err != nil || out.Code == "" {
		t.Fatalf("POST /api/rooms: status %d, %v", res.StatusCode, err)
	}
	return out.Code
}

// joinURL is the autojoin link of a participant; path forces an Encoded
// Transform API ("" = auto).
func joinURL(srv *testServer, code, name, key, path string) string {
	// Small video: four tabs encode and decode on a shared 2-core machine.
	q := url.Values{"autojoin": {"1"}, "video": {"low"}}
	if path != "" {
		q.Set("e2eepath", path)
	}
	return srv.URL + "/r/" + code + "?" + q.Encode() + nameFragment(key, name)
}

// nameFragment is the fragment of a join link: the key first (none in a
// room without encryption), then the display name, percent-encoded. Names
// never go in the query, which the server receives (docs/protocol.md).
func nameFragment(key, name string) string {
	f := "#" + key
	if key != "" {
		f += "&"
	}
	return f + "name=" + url.QueryEscape(name)
}

// join opens a tab that joins the call and waits until it is in it.
func join(t *testing.T, b context.Context, name, u string) *member {
	t.Helper()
	return inCall(t, newTab(t, b, name, u))
}

// inCall waits until the tab is in the call and returns it as a member.
func inCall(t *testing.T, tb *tab) *member {
	t.Helper()
	name := tb.name
	tb.waitFor(t, "in the call", `meetTest.screen() === 'call'`, 20*time.Second)
	var id string
	if err := tb.eval(context.Background(), `meetTest.self().id`, &id); err != nil || id == "" {
		t.Fatalf("%s: no participant id (%v)", name, err)
	}
	return &member{tab: tb, id: id}
}

type remoteStats struct {
	Name                 string `json:"name"`
	FramesDecoded        int    `json:"framesDecoded"`
	AudioPacketsReceived int    `json:"audioPacketsReceived"`
	DecryptState         string `json:"decryptState"`
	NameUnreadable       bool   `json:"nameUnreadable"`
}

func (m *member) stats(t *testing.T) map[string]remoteStats {
	t.Helper()
	var s map[string]remoteStats
	if err := m.eval(context.Background(), `meetTest.stats()`, &s); err != nil {
		t.Fatalf("%s: stats: %v", m.name, err)
	}
	return s
}

// decodes waits until m has decoded more than frames video frames of other
// and received audio packets from it, and returns the counts.
func (m *member) decodes(t *testing.T, other *member, frames int, d time.Duration) remoteStats {
	t.Helper()
	m.waitFor(t, fmt.Sprintf("decoding %s (>%d frames, audio)", other.name, frames), fmt.Sprintf(
		`(await meetTest.stats())[%q]?.framesDecoded > %d && (await meetTest.stats())[%q]?.audioPacketsReceived > 0`,
		other.id, frames, other.id), d)
	return m.stats(t)[other.id]
}

// keepsReceiving checks that video frames and audio packets from other keep
// arriving at m: both counters grow.
func (m *member) keepsReceiving(t *testing.T, other *member) {
	t.Helper()
	before := m.stats(t)[other.id]
	m.waitFor(t, "video and audio from "+other.name+" keep arriving", fmt.Sprintf(
		`((s) => s && s.framesDecoded > %d && s.audioPacketsReceived > %d)((await meetTest.stats())[%q])`,
		before.FramesDecoded+10, before.AudioPacketsReceived+10, other.id), 10*time.Second)
}

func (m *member) click(t *testing.T, sel string) {
	t.Helper()
	if err := m.eval(context.Background(), fmt.Sprintf(`document.querySelector(%q).click()`, sel), nil); err != nil {
		t.Fatalf("%s: click %s: %v", m.name, sel, err)
	}
}

// chat sends a message through the chat panel's form, as a user would
// (one script rather than synthetic key presses: faster on a loaded machine,
// and the same submit handler runs).
func (m *member) chat(t *testing.T, text string) {
	t.Helper()
	m.click(t, "#chat-button")
	err := m.eval(context.Background(), fmt.Sprintf(
		`(() => { const i = document.querySelector('#chat-input'); i.value = %q; i.form.requestSubmit(); })()`, text), nil)
	if err != nil {
		t.Fatalf("%s: sending chat: %v", m.name, err)
	}
}

// TestCall is the main browser test, on the RTCRtpScriptTransform path:
// two tabs see and hear each other through the SFU, names and chat arrive
// decrypted, a third tab joins late and sees both, it leaves and the rest
// carry on; a tab with another key decodes nothing and says so while the
// others are unaffected.
func TestCall(t *testing.T) {
	srv, b, code, key, closeBrowser, leaks := newCall(t, 90*time.Second)
	shots := screenshotDir()
	start := time.Now()
	phase := func(name string) { t.Logf("%5.1fs %s", time.Since(start).Seconds(), name) }

	ann := join(t, b, "Ann", joinURL(srv, code, "Ann", key, "script"))
	bob := join(t, b, "Bob", joinURL(srv, code, "Bob", key, "script"))
	checkPath(t, ann, "script")
	phase("two joined")
	ann.decodes(t, bob, 30, 25*time.Second)
	bob.decodes(t, ann, 30, 25*time.Second)
	ann.keepsReceiving(t, bob)
	bob.keepsReceiving(t, ann)

	phase("two decode each other")
	// Names are sealed with the room key and shown opened.
	if s := ann.stats(t)[bob.id]; s.Name != "Bob" || s.DecryptState != "ok" {
		t.Errorf("Ann sees Bob as %+v, want name Bob, decrypt ok", s)
	}
	// Chromium sends Opus RED, sealed block by block (docs/e2ee.md
	// §2.2.1), and the server forwards it as RED to Chromium; decrypt "ok"
	// above says every audio frame opened.
	if n := srv.counter(t, "meet_red_packets_total", "sent_as", "red"); n < 50 {
		t.Errorf("%v Opus RED packets forwarded as RED, want the audio of both (50 a second)", n)
	}
	bob.waitFor(t, "Ann's name", fmt.Sprintf(`[...document.querySelectorAll('.tile[data-id=%q] .tile-name')].some(e => e.textContent === 'Ann')`, ann.id), 5*time.Second)

	// Chat: sealed by Ann, relayed by the server, opened by Bob.
	ann.chat(t, "hello from Ann")
	bob.waitFor(t, "Ann's chat message", `meetTest.messages().some(m => m.name === 'Ann' && m.text === 'hello from Ann' && m.readable && !m.self)`, 5*time.Second)

	ann.screenshot(t, shots, "screenshot-call.png")

	phase("chat arrived")
	// A late joiner sees both; both see it.
	cy := join(t, b, "Cy", joinURL(srv, code, "Cy", key, "script"))
	cy.decodes(t, ann, 30, 25*time.Second)
	cy.decodes(t, bob, 30, 25*time.Second)
	ann.decodes(t, cy, 10, 15*time.Second)

	phase("late joiner decodes both")
	// Cy leaves: the others drop the tile within 5 s and keep receiving.
	cy.click(t, "#leave-button")
	for _, m := range []*member{ann, bob} {
		m.waitFor(t, "Cy's tile gone", fmt.Sprintf(`!document.querySelector('.tile[data-id=%q]') && !meetTest.participants().some(p => p.id === %q)`, cy.id, cy.id), 5*time.Second)
	}
	ann.keepsReceiving(t, bob)
	bob.keepsReceiving(t, ann)

	phase("leaver dropped")

	// Mute and camera off reach the other side.
	ann.click(t, "#mic-button")
	ann.click(t, "#cam-button")
	bob.waitFor(t, "Ann muted, camera off", fmt.Sprintf(
		`meetTest.participants().some(p => p.id === %q && p.audioMuted && p.videoMuted) && document.querySelector('.tile[data-id=%q].no-video')`, ann.id, ann.id), 5*time.Second)
	ann.click(t, "#mic-button")
	ann.click(t, "#cam-button")
	bob.waitFor(t, "Ann unmuted, camera on", fmt.Sprintf(
		`meetTest.participants().some(p => p.id === %q && !p.audioMuted && !p.videoMuted)`, ann.id), 5*time.Second)
	bob.keepsReceiving(t, ann)
	phase("mute and camera")

	// A tab with another key: decodes nothing, says so, others unaffected.
	eve := join(t, b, "Eve", joinURL(srv, code, "Eve", newKey(t), "script"))
	checkWrongKey(t, eve, ann, bob)
	phase("wrong key detected")
	ann.screenshot(t, shots, "screenshot-e2ee.png")

	endCall(t, srv, key, closeBrowser, leaks)
}

// TestE2EEStreams repeats the encryption checks of TestCall on Chrome's
// other Encoded Transform API (createEncodedStreams): two tabs with the same
// key exchange media and chat; a third with another key decodes no frame,
// reads no name or chat and shows "cannot decrypt" for both.
func TestE2EEStreams(t *testing.T) {
	const path = "streams"
	srv, b, code, key, closeBrowser, leaks := newCall(t, 80*time.Second)

	ann := join(t, b, "Ann", joinURL(srv, code, "Ann", key, path))
	bob := join(t, b, "Bob", joinURL(srv, code, "Bob", key, path))
	checkPath(t, ann, path)
	ann.decodes(t, bob, 30, 25*time.Second)
	bob.decodes(t, ann, 30, 25*time.Second)
	bob.chat(t, "hi Ann, it's Bob")
	ann.waitFor(t, "Bob's chat message", `meetTest.messages().some(m => m.name === 'Bob' && m.text === "hi Ann, it's Bob" && m.readable)`, 5*time.Second)

	eve := join(t, b, "Eve", joinURL(srv, code, "Eve", newKey(t), path))
	checkWrongKey(t, eve, ann, bob)
	eve.chat(t, "can you read me?")
	ann.waitFor(t, "Eve's unreadable message", `meetTest.messages().some(m => !m.readable && m.text === '')`, 5*time.Second)
	endCall(t, srv, key, closeBrowser, leaks)
}

// TestUnencryptedCall: a room made with ?e2ee=off works without the E2EE
// library's transforms, says so, and carries names and chat in clear.
func TestUnencryptedCall(t *testing.T) {
	requireBrowser(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	srv := startServer(t)
	t.Cleanup(func() {
		// The counters say what the server did with the media (this test
		// failed 1 run in 12 when the page lost a track that arrived
		// second: its tile reported hidden and the server paused the
		// video, "dropped_packets.paused").
		if t.Failed() {
			var c counterDeltas
			t.Logf("server counters at the failure:%s", c.moved(t, srv))
		}
	})
	b := newBrowser(t, ctx)
	code := newRoom(t, srv)
	u := func(name string) string {
		return srv.URL + "/r/" + code + "?e2ee=off&video=low&autojoin=1" + nameFragment("", name)
	}
	ann := join(t, b, "Ann", u("Ann"))
	bob := join(t, b, "Bob", u("Bob"))
	var self struct {
		E2EE bool   `json:"e2ee"`
		Path string `json:"path"`
	}
	if err := ann.eval(ctx, `meetTest.self()`, &self); err != nil || self.E2EE || self.Path != "" {
		t.Fatalf("Ann in an unencrypted room: %+v (%v)", self, err)
	}
	ann.waitFor(t, "warning badge", `document.querySelector('.call-bar .badge-warn')`, 5*time.Second)
	ann.decodes(t, bob, 10, 25*time.Second)
	bob.decodes(t, ann, 10, 25*time.Second)
	// Both of each other's tracks are on the page: without E2EE every
	// track had the same handle, and the one that arrived second took the
	// first one's place (no video tile, or no audio element).
	for _, m := range []struct{ at, of *member }{{ann, bob}, {bob, ann}} {
		m.at.waitFor(t, m.of.name+"'s audio and video on the page",
			fmt.Sprintf(`meetTest.participants().some(p => p.id === %q && p.hasAudio && p.hasVideo)`, m.of.id), 5*time.Second)
	}
	if s := ann.stats(t)[bob.id]; s.Name != "Bob" || s.DecryptState != "off" {
		t.Errorf("Ann sees Bob as %+v, want name Bob, decrypt off", s)
	}
	ann.chat(t, "plain hello")
	bob.waitFor(t, "chat", `meetTest.messages().some(m => m.name === 'Ann' && m.text === 'plain hello')`, 5*time.Second)

	// An encrypted link to this code is another meeting: Eve lands in an
	// empty encrypted room and the clear one never sees her (the server
	// answers every join with a welcome, so a join cannot tell whether a
	// meeting of the other kind is going on: docs/security.md).
	eve := newTab(t, b, "Eve", joinURL(srv, code, "Eve", newKey(t), ""))
	eve.waitFor(t, "an empty encrypted meeting", `meetTest.screen() === 'call' && meetTest.self().e2ee && meetTest.participants().length === 0`, 20*time.Second)
	var seen int
	if err := ann.eval(ctx, `meetTest.participants().length`, &seen); err != nil || seen != 1 {
		t.Errorf("Ann sees %d others (%v), want only Bob", seen, err)
	}
}

func checkPath(t *testing.T, m *member, want string) {
	t.Helper()
	var got string
	if err := m.eval(context.Background(), `meetTest.self().path`, &got); err != nil || got != want {
		t.Fatalf("%s uses Encoded Transform path %q (%v), want %q", m.name, got, err, want)
	}
}

// checkWrongKey: eve holds another key than ann and bob.
func checkWrongKey(t *testing.T, eve, ann, bob *member) {
	t.Helper()
	for _, m := range []*member{ann, bob} {
		eve.waitFor(t, "cannot decrypt "+m.name, fmt.Sprintf(
			`meetTest.participants().some(p => p.id === %q && p.decryptState === 'failing') && document.querySelector('.tile[data-id=%q].decrypt-failing .tile-alert:not([hidden])')`, m.id, m.id), 25*time.Second)
		m.waitFor(t, "cannot decrypt Eve", fmt.Sprintf(
			`meetTest.participants().some(p => p.id === %q && p.decryptState === 'failing')`, eve.id), 25*time.Second)
	}
	var text string
	_ = eve.eval(context.Background(), `document.querySelector('.tile.decrypt-failing').innerText`, &text)
	if !strings.Contains(text, "Cannot decrypt — different key?") {
		t.Errorf("Eve's tile of another participant says %q", text)
	}
	// Media arrived but nothing was decoded: the frames were dropped, not
	// fed to the decoder.
	eve.waitFor(t, "packets from Ann arriving", fmt.Sprintf(`(await meetTest.stats())[%q]?.audioPacketsReceived > 20`, ann.id), 10*time.Second)
	for id, s := range eve.stats(t) {
		if s.FramesDecoded != 0 {
			t.Errorf("Eve decoded %d frames of %s with the wrong key", s.FramesDecoded, id)
		}
		if !s.NameUnreadable {
			t.Errorf("Eve could read the name of %s with the wrong key", id)
		}
	}
	ann.keepsReceiving(t, bob)
	bob.keepsReceiving(t, ann)
	if s := ann.stats(t)[bob.id]; s.DecryptState != "ok" {
		t.Errorf("Ann's view of Bob became %q after Eve joined", s.DecryptState)
	}
}

// newCall starts what a browser call test needs: a server, a browser (its
// context and how to close it), a room code and key, and the goroutine
// baseline endCall checks; everything ends within d.
func newCall(t *testing.T, d time.Duration) (srv *testServer, b context.Context, code, key string, closeBrowser func(), leaks leakCheck) {
	t.Helper()
	requireBrowser(t)
	leaks = goroutineBaseline()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	srv = startServer(t)
	bctx, closeB := context.WithCancel(ctx)
	b = newBrowser(t, bctx)
	return srv, b, newRoom(t, srv), newKey(t), closeB, leaks
}

// endCall finishes a browser call test: the room key must not have reached
// the server in any request, the browser closes, the server shuts down and
// none of its goroutines are left.
func endCall(t *testing.T, srv *testServer, key string, closeBrowser func(), leaks leakCheck) {
	t.Helper()
	if line := srv.rec.contains(key); line != "" {
		t.Errorf("the room key reached the server: %s", line)
	}
	closeBrowser()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := srv.shutdown(ctx); err != nil {
		t.Errorf("shutdown: %v", err)
	}
	leaks.check(t)
}
