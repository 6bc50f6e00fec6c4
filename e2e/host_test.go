package e2e

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/gorilla/websocket"

	"github.com/monkeythorn/meet/signaling"
)

// tokenTap is a front door that remembers every join token the server
// hands out, by participant id, so the test can replay a removed
// participant's own token.
type tokenTap struct {
	URL    string
	mu     sync.Mutex
	tokens map[string]string // participant id -> token
}

func newTokenTap(t *testing.T, srv *testServer) *tokenTap {
	t.Helper()
	tap := &tokenTap{tokens: map[string]string{}}
	hs := httptest.NewServer(srv.rec.wrap(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/api/token" {
			srv.handler.ServeHTTP(w, r)
			return
		}
		rec := httptest.NewRecorder()
		srv.handler.ServeHTTP(rec, r)
		var tr struct{ Token string }
		if json.Unmarshal(rec.Body.Bytes(), &tr) == nil && tr.Token != "" {
			tap.add(tr.Token)
		}
		for k, v := range rec.Header() {
			w.Header()[k] = v
		}
		w.WriteHeader(rec.Code)
		_, _ = w.Write(rec.Body.Bytes())
	})))
	t.Cleanup(hs.Close)
	tap.URL = hs.URL
	return tap
}

func (tap *tokenTap) add(tok string) {
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		return
	}
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	var c struct{ Sub string }
	if err != nil || json.Unmarshal(payload, &c) != nil {
		return
	}
	tap.mu.Lock()
	tap.tokens[c.Sub] = tok
	tap.mu.Unlock()
}

func (tap *tokenTap) token(id string) string {
	tap.mu.Lock()
	defer tap.mu.Unlock()
	return tap.tokens[id]
}

// newRoomWithHostKey creates a room as the landing page does and returns
// its code and host key.
func newRoomWithHostKey(t *testing.T, base string) (string, string) {
	t.Helper()
	res, err := http.Post(base+"/api/rooms", "application/json", strings.NewReader("{}"))
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var out struct{ Code, HostKey string }
	if err := json.NewDecoder(res.Body).Decode(&out); err != nil || out.Code == "" || out.HostKey == "" {
		t.Fatalf("POST /api/rooms: status %d, %v", res.StatusCode, err)
	}
	return out.Code, out.HostKey
}

// guestTab opens url in a fresh browser context of b: its own storage, as
// another person's browser (the host's tab keeps the host key in its
// localStorage, which every tab of one context shares).
func guestTab(t *testing.T, b context.Context, name, url string) *tab {
	t.Helper()
	return openTab(t, b, name, url, chromedp.WithNewBrowserContext())
}

func guest(t *testing.T, b context.Context, name, url string) *member {
	t.Helper()
	return inCall(t, guestTab(t, b, name, url))
}

// wsJoin joins over a plain WebSocket with tok and returns the connection
// and the first message the server answers with.
func wsJoin(t *testing.T, base, room, tok string) (*websocket.Conn, map[string]any) {
	t.Helper()
	ws, _, err := websocket.DefaultDialer.Dial("ws"+strings.TrimPrefix(base, "http")+"/ws", nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ws.Close() })
	if err := ws.WriteJSON(signaling.Join{Type: signaling.TypeJoin, Version: signaling.Version, Token: tok, Room: room}); err != nil {
		t.Fatal(err)
	}
	return ws, readUntil(t, ws, signaling.TypeWelcome, signaling.TypeError)
}

// readUntil reads messages until one of the given types (at most 50).
func readUntil(t *testing.T, ws *websocket.Conn, types ...string) map[string]any {
	t.Helper()
	_ = ws.SetReadDeadline(time.Now().Add(10 * time.Second))
	for range 50 {
		var m map[string]any
		if err := ws.ReadJSON(&m); err != nil {
			t.Fatalf("reading: %v", err)
		}
		for _, typ := range types {
			if m["type"] == typ {
				return m
			}
		}
	}
	t.Fatalf("none of %v in 50 messages", types)
	return nil
}

func guestToken(t *testing.T, base, room string) string {
	t.Helper()
	res, err := http.Post(base+"/api/token", "application/json", strings.NewReader(`{"room":"`+room+`"}`))
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	var tr struct{ Token string }
	if json.Unmarshal(b, &tr) != nil || tr.Token == "" {
		t.Fatalf("token: %d %s", res.StatusCode, b)
	}
	return tr.Token
}

// TestHostControls walks the host controls in one meeting with real
// Chromium tabs (each guest in its own browser context, as on its own
// computer):
//   - Hank opens the host link: the key leaves the address bar, he is host;
//   - a non-host's host action over the WebSocket gets not-host;
//   - Bob raises his hand: Ann sees it on his tile and in the list;
//   - Hank asks everyone else to mute: Ann's browser mutes her microphone;
//   - Hank removes Bob from the people panel: Bob's media is gone for Ann
//     within 2 s, Bob sees why, Ann sees who was removed by name, and
//     Bob's own token is refused;
//   - Hank locks (from the keyboard): a new tab gets the documented
//     "locked" message, and Ann, whose connection drops, comes back in
//     with her rejoin ticket;
//   - Hank turns on the lobby: Dee waits on the waiting screen, Hank sees
//     her name and admits her; Eve is denied and told so.
//
// With MEET_SCREENSHOT_DIR set it saves the people panel with host
// controls and the lobby screen.
func TestHostControls(t *testing.T) {
	requireBrowser(t)
	leaks := goroutineBaseline()
	ctx, cancel := context.WithTimeout(context.Background(), 180*time.Second)
	defer cancel()
	srv := startServer(t)
	tap := newTokenTap(t, srv)
	bctx, closeBrowser := context.WithCancel(ctx)
	b := newBrowser(t, bctx)
	code, hostKey := newRoomWithHostKey(t, tap.URL)
	key := newKey(t)
	shots := screenshotDir()
	start := time.Now()
	phase := func(name string) { t.Logf("%5.1fs %s", time.Since(start).Seconds(), name) }

	hank := join(t, b, "Hank", meetingURL(tap.URL, code, "Hank", key+"&host="+hostKey, ""))
	hank.waitFor(t, "Hank is host, the host key out of the address bar", fmt.Sprintf(
		`meetTest.meeting().isHost && !location.hash.includes('host=') && location.hash.startsWith('#' + %q)`, key), 5*time.Second)

	// A non-host's host action over the WebSocket: refused, not fatal.
	ws, w := wsJoin(t, tap.URL, code, guestToken(t, tap.URL, code))
	if w["type"] != signaling.TypeWelcome {
		t.Fatalf("plain join: %v", w)
	}
	if err := ws.WriteJSON(signaling.Remove{Type: signaling.TypeRemove, ID: hank.id}); err != nil {
		t.Fatal(err)
	}
	if e := readUntil(t, ws, signaling.TypeError); e["code"] != signaling.CodeNotHost || e["fatal"] == true {
		t.Errorf("non-host remove: %v, want non-fatal not-host", e)
	}
	_ = ws.WriteJSON(signaling.Leave{Type: signaling.TypeLeave})
	ws.Close()
	phase("host joined; non-host refused")

	door := newFrontDoor(t, srv) // Ann's way in, cut later to drop her connection
	ann := guest(t, b, "Ann", meetingURL(door.URL, code, "Ann", key, ""))
	bob := guest(t, b, "Bob", meetingURL(tap.URL, code, "Bob", key, ""))
	// Bob's media must be flowing before its end can be timed; a few
	// frames prove it (the machine may be busy with other tests).
	ann.decodes(t, bob, 5, 30*time.Second)
	hank.decodes(t, bob, 5, 30*time.Second)
	var annHost bool
	if err := ann.eval(ctx, `meetTest.meeting().isHost`, &annHost); err != nil || annHost {
		t.Fatalf("Ann is host (%v): only the host-link holder should be", err)
	}
	phase("three in the call")

	// Raise a hand: on Bob's tile and in the list of the others.
	bob.click(t, "#hand-button")
	ann.waitFor(t, "Bob's raised hand on his tile", fmt.Sprintf(
		`meetTest.participants().some(p => p.id === %q && p.handRaised) && !document.querySelector('.tile[data-id=%q] .tile-hand').hidden`, bob.id, bob.id), 5*time.Second)
	hank.click(t, "#people-button")
	hank.waitFor(t, "host controls with a host link", `document.querySelector('#host-controls #host-link') && document.querySelector('#host-mute-all')`, 5*time.Second)
	hank.waitFor(t, "Bob's hand in the people list", fmt.Sprintf(
		`document.querySelector('#people-list .person[data-id=%q] [aria-label="Hand raised"]')`, bob.id), 5*time.Second)

	// Mute everyone else: a request Ann's browser honours.
	hank.click(t, "#host-mute-all")
	ann.waitFor(t, "Ann muted by the host's request", `meetTest.self().audioMuted`, 5*time.Second)
	hank.waitFor(t, "Ann shown muted", fmt.Sprintf(`meetTest.participants().some(p => p.id === %q && p.audioMuted)`, ann.id), 5*time.Second)
	hank.screenshot(t, shots, "screenshot-host-controls.png")
	phase("hand raised, mute all")

	// Remove Bob through the people panel and its confirmation.
	hank.click(t, fmt.Sprintf(`#people-list button[data-fk="remove:%s"]`, bob.id))
	hank.waitFor(t, "confirmation", `document.querySelector('#confirm-remove')`, 5*time.Second)
	// Timed in the browsers (one machine, one clock), so a slow DevTools
	// round trip on a busy machine does not count: Ann's page notes when
	// Bob's tile and media are gone, and every notice it shows.
	if err := ann.eval(ctx, fmt.Sprintf(`(() => {
		window.__notices = [];
		new MutationObserver((ms) => ms.forEach((m) => m.addedNodes.forEach((n) => {
			if (n.classList && n.classList.contains('toast')) window.__notices.push(n.textContent);
		}))).observe(document.body, { childList: true, subtree: true });
		window.__bobGoneAt = 0;
		const iv = setInterval(() => {
			if (!meetTest.participants().some(p => p.id === %q) && !document.querySelector('.tile[data-id=%q]')) {
				window.__bobGoneAt = Date.now();
				clearInterval(iv);
			}
		}, 10);
	})()`, bob.id, bob.id), nil); err != nil {
		t.Fatal(err)
	}
	var clickedAt int64
	if err := hank.eval(ctx, `(() => { const t = Date.now(); document.querySelector('#confirm-remove').click(); return t; })()`, &clickedAt); err != nil {
		t.Fatal(err)
	}
	ann.waitFor(t, "Bob's tile and media gone", fmt.Sprintf(`window.__bobGoneAt > 0 && !((await meetTest.stats())[%q])`, bob.id), 15*time.Second)
	var goneAt int64
	if err := ann.eval(ctx, `window.__bobGoneAt`, &goneAt); err != nil {
		t.Fatal(err)
	}
	t.Logf("Bob's media gone at Ann's %d ms after the click", goneAt-clickedAt)
	if d := goneAt - clickedAt; d > 2000 {
		t.Errorf("Bob's media stopped at Ann's %d ms after the host's click, want within 2 s", d)
	}
	ann.waitFor(t, "who was removed, by name", `window.__notices.some((n) => n.includes('removed Bob'))`, 5*time.Second)
	bob.waitFor(t, "Bob told he was removed", `meetTest.screen() === 'error' && meetTest.message().includes('removed you')`, 5*time.Second)
	bobTok := tap.token(bob.id)
	if bobTok == "" {
		t.Fatal("Bob's token was not seen")
	}
	if _, e := wsJoin(t, tap.URL, code, bobTok); e["type"] != signaling.TypeError || e["code"] != signaling.CodeRemoved {
		t.Errorf("Bob's token again: %v, want the removed error", e)
	}
	phase("Bob removed")

	// Lock from the keyboard: focus the control, press Enter. (The list
	// is redrawn as people speak; focus must stay on the control.)
	if err := hank.eval(ctx, `document.querySelector('#host-lock').focus()`, nil); err != nil {
		t.Fatal(err)
	}
	hank.waitFor(t, "focus on the lock control", `document.activeElement?.id === 'host-lock'`, 5*time.Second)
	if err := chromedp.Do(hank.ctx, chromedp.KeyEvent("\r")); err != nil {
		t.Fatalf("Hank: lock by keyboard: %v", err)
	}
	hank.waitFor(t, "locked, focus kept on the control", `meetTest.meeting().locked && document.activeElement?.id === 'host-lock' && document.activeElement.getAttribute('aria-pressed') === 'true'`, 5*time.Second)
	ann.waitFor(t, "Ann sees the meeting locked", `meetTest.meeting().locked && document.querySelector('#people-button')`, 5*time.Second)
	cy := guestTab(t, b, "Cy", meetingURL(tap.URL, code, "Cy", key, ""))
	cy.waitFor(t, "Cy refused", fmt.Sprintf(`meetTest.screen() === 'error' && meetTest.message() === %q`, signaling.MsgLocked), 30*time.Second)
	// Ann's connection drops while the meeting is locked: her rejoin
	// ticket brings her back in without a reload.
	oldAnn := ann.id
	door.cut(2 * time.Second)
	ann.waitFor(t, "Ann back in the locked meeting", `meetTest.self().connection === 'connected' && meetTest.self().reconnects >= 1 && meetTest.screen() === 'call'`, 30*time.Second)
	ann.id = ann.self(t).ID
	hank.waitFor(t, "Hank sees Ann again", fmt.Sprintf(`meetTest.participants().some(p => p.id === %q && p.name === 'Ann') && !meetTest.participants().some(p => p.id === %q)`, ann.id, oldAnn), 10*time.Second)
	hank.click(t, "#host-lock")
	phase("locked meeting refuses a new tab, lets a dropped participant back")

	// Lobby: Dee waits, Hank sees her name and admits her.
	hank.click(t, "#host-lobby")
	hank.waitFor(t, "lobby on, unlocked", `meetTest.meeting().lobby && !meetTest.meeting().locked`, 5*time.Second)
	dee := guestTab(t, b, "Dee", meetingURL(tap.URL, code, "Dee", key, ""))
	dee.waitFor(t, "Dee waits", `meetTest.screen() === 'lobby' && document.querySelector('#lobby-wait')?.textContent.includes('Waiting for the host to let you in')`, 30*time.Second)
	dee.screenshot(t, shots, "screenshot-lobby.png")
	hank.waitFor(t, "Dee's name in the lobby list", `meetTest.meeting().lobby.some(w => w.name === 'Dee') && document.querySelector('#lobby-list').textContent.includes('Dee')`, 5*time.Second)
	var deeID string
	if err := hank.eval(ctx, `meetTest.meeting().lobby.find(w => w.name === 'Dee').id`, &deeID); err != nil {
		t.Fatal(err)
	}
	hank.screenshot(t, shots, "screenshot-host-lobby.png")
	hank.click(t, fmt.Sprintf(`#lobby-list button[data-fk="admit:%s"]`, deeID))
	dee.waitFor(t, "Dee in the call", `meetTest.screen() === 'call'`, 30*time.Second)
	ann.waitFor(t, "Ann sees Dee", `meetTest.participants().some(p => p.name === 'Dee')`, 10*time.Second)
	phase("lobby: admitted")

	eve := guestTab(t, b, "Eve", meetingURL(tap.URL, code, "Eve", key, ""))
	hank.waitFor(t, "Eve waiting", `meetTest.meeting().lobby.some(w => w.name === 'Eve')`, 30*time.Second)
	var eveID string
	if err := hank.eval(ctx, `meetTest.meeting().lobby.find(w => w.name === 'Eve').id`, &eveID); err != nil {
		t.Fatal(err)
	}
	hank.click(t, fmt.Sprintf(`#lobby-list button[data-fk="deny:%s"]`, eveID))
	eve.waitFor(t, "Eve told she was not let in", fmt.Sprintf(`meetTest.screen() === 'error' && meetTest.message() === %q`, signaling.MsgDenied), 10*time.Second)
	phase("lobby: denied")

	if line := srv.rec.contains(hostKey); line != "" && !strings.Contains(line, "/api/token") {
		t.Errorf("the host key reached the server outside the token request: %s", line)
	}
	endCall(t, srv, key, closeBrowser, leaks)
}
