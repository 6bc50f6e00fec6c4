package e2e

import (
	"context"
	"fmt"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
)

// wireLog keeps everything a tab sends and receives over HTTP and
// WebSocket, as the browser's DevTools protocol reports it: request URLs,
// headers and bodies, response headers and bodies, every WebSocket frame in
// both directions.
type wireLog struct {
	mu      sync.Mutex
	entries []string
	wg      sync.WaitGroup
}

func (w *wireLog) add(kind, s string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.entries = append(w.entries, kind+": "+s)
}

// find returns the first entry containing any of needles, or "".
func (w *wireLog) find(needles ...string) string {
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, e := range w.entries {
		for _, n := range needles {
			if n != "" && strings.Contains(e, n) {
				return e
			}
		}
	}
	return ""
}

func (w *wireLog) count() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return len(w.entries)
}

// wireTab opens a tab whose traffic is recorded from its first request on.
func wireTab(t *testing.T, b context.Context, name, u string) (*tab, *wireLog) {
	t.Helper()
	logs := &logBuffer{}
	w := &wireLog{}
	var ctx context.Context
	listen := func(ev any) {
		logs.listen(ev)
		switch e := ev.(type) {
		case *network.EventRequestWillBeSent:
			// The URL as sent: DevTools reports the fragment apart
			// (URLFragment), and browsers never send it.
			body := ""
			for _, en := range e.Request.PostDataEntries {
				body += string(en.Bytes)
			}
			w.add("request", fmt.Sprintf("%s %s %v %s", e.Request.Method, e.Request.URL, e.Request.Headers, body))
		case *network.EventResponseReceived:
			w.add("response", fmt.Sprintf("%s %v", e.Response.URL, e.Response.Headers))
		case *network.EventLoadingFinished:
			// Bodies are fetched off the event loop, which must not block.
			w.wg.Add(1)
			go func() {
				defer w.wg.Done()
				c, cancel := context.WithTimeout(ctx, 5*time.Second)
				defer cancel()
				if r, err := chromedp.Call(c, network.GetResponseBody, network.GetResponseBodyParams{RequestID: e.RequestID}); err == nil {
					w.add("response body", string(r.Body))
				}
			}()
		case *network.EventWebSocketCreated:
			w.add("websocket", e.URL)
		case *network.EventWebSocketFrameSent:
			w.add("ws sent", string(e.Response.PayloadData))
		case *network.EventWebSocketFrameReceived:
			w.add("ws received", string(e.Response.PayloadData))
		}
	}
	ctx, cancel := chromedp.NewContext(b, chromedp.WithListener(listen))
	t.Cleanup(cancel)
	// chromedp enables the Network domain when it attaches to the tab,
	// before the navigation below.
	if err := chromedp.Do(ctx, chromedp.Navigate(u)); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("console of %s:\n%s", name, logs.String())
		}
	})
	return &tab{name: name, ctx: ctx, logs: logs}, w
}

// TestNoSecretsOnTheWire records, through the DevTools protocol, every HTTP
// request and response and every WebSocket frame of two browsers in a call
// that joined with prefilled names and chatted, and checks that no display
// name, chat text, link key or safety code appears in any of them.
func TestNoSecretsOnTheWire(t *testing.T) {
	srv, b, code, key, closeBrowser, leaks := newCall(t, 60*time.Second)
	names := []string{"Wanda Wirecheck", "Zoë Ünseen"}
	chat := "the wire must not carry this line"
	var members []*member
	var logs []*wireLog
	for _, n := range names {
		u := srv.URL + "/r/" + code + "?" + url.Values{"autojoin": {"1"}, "video": {"low"}}.Encode() + nameFragment(key, n)
		tb, w := wireTab(t, b, n, u)
		tb.waitFor(t, "in the call", `meetTest.screen() === 'call'`, 20*time.Second)
		var id string
		if err := tb.eval(context.Background(), `meetTest.self().id`, &id); err != nil {
			t.Fatal(err)
		}
		members = append(members, &member{tab: tb, id: id})
		logs = append(logs, w)
	}
	a, z := members[0], members[1]
	z.waitFor(t, "the other's name", fmt.Sprintf(`meetTest.participants().some(p => p.id === %q && p.name === %q)`, a.id, names[0]), 10*time.Second)
	a.waitFor(t, "the other's name", fmt.Sprintf(`meetTest.participants().some(p => p.id === %q && p.name === %q)`, z.id, names[1]), 10*time.Second)
	a.chat(t, chat)
	z.waitFor(t, "the chat line", fmt.Sprintf(`meetTest.messages().some(m => m.text === %q && m.readable)`, chat), 10*time.Second)
	var code1 string
	if err := a.eval(context.Background(), `meetTest.self().safetyCode`, &code1); err != nil || len(code1) != 19 {
		t.Fatalf("safety code %q (%v)", code1, err)
	}
	var secrets []string
	for _, n := range names {
		secrets = append(secrets, n, url.QueryEscape(n), url.PathEscape(n), strings.Fields(n)[1])
	}
	secrets = append(secrets, chat, key, code1, strings.ReplaceAll(code1, " ", ""))
	for i, w := range logs {
		w.wg.Wait()
		if w.count() < 10 || w.find(`"type":"chat"`) == "" && i == 0 {
			t.Errorf("%s: only %d entries recorded (chat sent: %v): the recording does not work", names[i], w.count(), w.find(`"type":"chat"`) != "")
		}
		if e := w.find(secrets...); e != "" {
			if len(e) > 300 {
				e = e[:300]
			}
			t.Errorf("%s: a secret is on the wire: %s", names[i], e)
		}
	}
	endCall(t, srv, key, closeBrowser, leaks)
}
