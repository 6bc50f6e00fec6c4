package e2e

import (
	"context"
	"encoding/base64"
	"fmt"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/monkeythorn/meet/e2ee"
)

// clearMedia is real VP8 and Opus, encoded by the browser's own WebCodecs:
// what a server that wants to be seen and heard would send.
type clearMedia struct {
	video    [][]byte // 15 fps, a key frame every 15 frames
	videoKey []bool
	audio    [][]byte // 20 ms Opus frames of a tone
}

const encodeClearMedia = `(async () => {
  const b64 = (u8) => { let s = ''; for (const x of u8) s += String.fromCharCode(x); return btoa(s); };
  const video = [];
  const venc = new VideoEncoder({ output: (ch) => { const b = new Uint8Array(ch.byteLength); ch.copyTo(b); video.push({ key: ch.type === 'key', data: b64(b) }); }, error: (e) => { throw e; } });
  venc.configure({ codec: 'vp8', width: 320, height: 240, bitrate: 200000, framerate: 15 });
  const c = new OffscreenCanvas(320, 240);
  const g = c.getContext('2d');
  for (let i = 0; i < 45; i++) {
    g.fillStyle = 'hsl(' + (i * 8) + ',80%,50%)'; g.fillRect(0, 0, 320, 240);
    g.fillStyle = '#fff'; g.fillRect(i * 6, 100, 40, 40);
    const f = new VideoFrame(c, { timestamp: i * 66666 });
    venc.encode(f, { keyFrame: i % 15 === 0 });
    f.close();
  }
  await venc.flush();
  const audio = [];
  const aenc = new AudioEncoder({ output: (ch) => { const b = new Uint8Array(ch.byteLength); ch.copyTo(b); audio.push(b64(b)); }, error: (e) => { throw e; } });
  aenc.configure({ codec: 'opus', sampleRate: 48000, numberOfChannels: 1, bitrate: 32000 });
  for (let i = 0; i < 50; i++) {
    const d = new Float32Array(960);
    for (let k = 0; k < 960; k++) d[k] = 0.5 * Math.sin(2 * Math.PI * 440 * (i * 960 + k) / 48000);
    const a = new AudioData({ format: 'f32', sampleRate: 48000, numberOfFrames: 960, numberOfChannels: 1, timestamp: i * 20000, data: d });
    aenc.encode(a);
    a.close();
  }
  await aenc.flush();
  return { video, audio };
})()`

func encodeMedia(t *testing.T, b context.Context, base string) clearMedia {
	t.Helper()
	tb := newTab(t, b, "encoder", base+"/")
	var raw struct {
		Video []struct {
			Key  bool   `json:"key"`
			Data string `json:"data"`
		} `json:"video"`
		Audio []string `json:"audio"`
	}
	if err := tb.eval(context.Background(), encodeClearMedia, &raw); err != nil {
		t.Fatalf("encoding media with WebCodecs: %v", err)
	}
	var m clearMedia
	for _, v := range raw.Video {
		d, _ := base64.StdEncoding.DecodeString(v.Data)
		m.video = append(m.video, d)
		m.videoKey = append(m.videoKey, v.Key)
	}
	for _, a := range raw.Audio {
		d, _ := base64.StdEncoding.DecodeString(a)
		m.audio = append(m.audio, d)
	}
	if len(m.video) != 45 || !m.videoKey[0] || len(m.audio) < 40 {
		t.Fatalf("WebCodecs gave %d video frames (first key %v), %d audio frames", len(m.video), len(m.videoKey) > 0 && m.videoKey[0], len(m.audio))
	}
	return m
}

// honestPeer is what the genuine client of one participant sends in one
// join: its sealed profile and chat (bound to its id, join salt and
// counter) and its frames (one key per source). The test plays it, with the
// room key; the hostile server only gets to replay, move and relabel.
type honestPeer struct {
	t       *testing.T
	id      string
	rk      *e2ee.RoomKey
	salt    e2ee.JoinSalt
	counter uint64
	keys    map[e2ee.Source]*e2ee.SenderKey
	ivs     map[e2ee.Source]*e2ee.IVSequence
}

func newHonest(t *testing.T, rk *e2ee.RoomKey, id string) *honestPeer {
	t.Helper()
	h := &honestPeer{t: t, id: id, rk: rk, salt: e2ee.NewJoinSalt(), keys: map[e2ee.Source]*e2ee.SenderKey{}, ivs: map[e2ee.Source]*e2ee.IVSequence{}}
	for _, src := range []e2ee.Source{e2ee.SourceMicrophone, e2ee.SourceCamera, e2ee.SourceScreen} {
		k, err := rk.Frame(id, src, h.salt)
		if err != nil {
			t.Fatal(err)
		}
		h.keys[src] = k
		h.ivs[src] = e2ee.NewIVSequence()
	}
	return h
}

func (h *honestPeer) seal(kind e2ee.MessageKind, text string) string {
	s, err := h.rk.Seal(e2ee.SealContext{SenderID: h.id, Salt: h.salt, Kind: kind, Counter: h.counter}, text)
	if err != nil {
		h.t.Fatal(err)
	}
	h.counter++
	return s
}

// profile is the sealed profile the client sends, made at time at.
func (h *honestPeer) profile(name string, at time.Time) string {
	return h.seal(e2ee.KindProfile, fmt.Sprintf(`{"name":%q,"ts":%d}`, name, at.UnixMilli()))
}

func (h *honestPeer) chat(text string) string {
	return h.seal(e2ee.KindChat, fmt.Sprintf(`{"text":%q}`, text))
}

// video and audio encrypt frames of one source; each is called from one
// track's pump only.
func (h *honestPeer) video(src e2ee.Source) func(key bool, f []byte) []byte {
	return func(key bool, f []byte) []byte { return h.encrypt(src, e2ee.CodecVP8, key, f) }
}

func (h *honestPeer) audio() func(f []byte) []byte {
	return func(f []byte) []byte { return h.encrypt(e2ee.SourceMicrophone, e2ee.CodecOpus, false, f) }
}

func (h *honestPeer) encrypt(src e2ee.Source, codec e2ee.Codec, key bool, f []byte) []byte {
	out, err := h.keys[src].EncryptFrame(nil, codec, key, h.ivs[src].Next(), 0, f)
	if err != nil {
		h.t.Errorf("encrypt: %v", err)
	}
	return out
}

// videoOf and audioOf loop the clear media through enc.
func videoOf(m clearMedia, enc func(key bool, f []byte) []byte) func(i int) []byte {
	return func(i int) []byte { return enc(m.videoKey[i%len(m.video)], m.video[i%len(m.video)]) }
}

func audioOf(m clearMedia, enc func(f []byte) []byte) func(i int) []byte {
	return func(i int) []byte { return enc(m.audio[i%len(m.audio)]) }
}

// replaying sends fresh frames from gen, and from frame `from` on the first
// n frames it sent again, in a loop: a recording played back.
func replaying(gen func(i int) []byte, n, from int) func(i int) []byte {
	rec := make([][]byte, 0, n)
	return func(i int) []byte {
		if i >= from {
			return rec[(i-from)%len(rec)]
		}
		f := gen(i)
		if len(rec) < n {
			rec = append(rec, f)
		}
		return f
	}
}

const (
	videoEvery  = time.Second / 15
	audioEvery  = 20 * time.Millisecond
	hostileKey  = "AAECAwQFBgcICQoLDA0ODw"
	hostileRoom = "hstjkmnpq"
)

// TestHostileServer runs the attacks of a server that lies (issue 11,
// docs/e2ee.md §9) against the genuine web client in headless Chromium, on
// both Encoded Transform paths. One call carries every attack at once, next
// to an honest participant whose media and chat must get through (so each
// check can fail):
//   - "evil.1": an id the E2EE format cannot name, with the honest
//     participant's sealed name replayed and clear media;
//   - "replay…": genuine media, then the same frames replayed;
//   - "ghost…": a whole session recorded an hour ago (profile and media);
//   - "mover…": the honest participant's sealed name announced as theirs;
//   - "swap…": genuine camera and screen, announced swapped;
//   - "mute…": frames of the server's own (v1's injected Opus silence);
//   - "early…": clear frames from the moment the track exists;
//   - chat: the honest participant's message replayed, and another moved
//     to "replay…".
//
// Each must end with nothing of the attacker rendered or played and a
// warning on the tile or in the chat.
func TestHostileServer(t *testing.T) {
	requireBrowser(t)
	leaks := goroutineBaseline()
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Second)
	defer cancel()
	bctx, closeBrowser := context.WithCancel(ctx)
	b := newBrowser(t, bctx)
	rk, err := e2ee.DeriveRoomKey(hostileKey, hostileRoom)
	if err != nil {
		t.Fatal(err)
	}
	probe := startHostile(t, nil, nil)
	m := encodeMedia(t, b, probe.URL)

	for _, path := range []string{"script", "streams"} {
		t.Run(path, func(t *testing.T) {
			hostileCall(t, rk, m, path, func(u string) victimPage { return newTab(t, b, "victim-"+path, u) })
		})
	}
	closeBrowser()
	t.Run("firefox", func(t *testing.T) {
		requireFirefoxBridge(t)
		hostileCall(t, rk, m, "auto", func(u string) victimPage { return newFirefoxTab(t, u) })
	})
	leaks.check(t)
}

// victimPage is the page under attack: a Chromium tab (chromedp) or a
// Firefox one (e2e/firefox/evalbridge.mjs).
type victimPage interface {
	eval(ctx context.Context, expr string, out any) error
	waitFor(t *testing.T, what, expr string, d time.Duration)
}

// Participant ids the double announces.
const (
	honestID = "honestAAAAAAAAAAAAAAAA"
	evilID   = "evil.1"
	replayID = "replayAAAAAAAAAAAAAAAA"
	ghostID  = "ghostAAAAAAAAAAAAAAAAA"
	moverID  = "moverAAAAAAAAAAAAAAAAA"
	swapID   = "swapAAAAAAAAAAAAAAAAAA"
	muteID   = "muteAAAAAAAAAAAAAAAAAA"
	earlyID  = "earlyAAAAAAAAAAAAAAAAA"
)

func hostileCall(t *testing.T, rk *e2ee.RoomKey, m clearMedia, path string, open func(url string) victimPage) {
	clearV := func(key bool, f []byte) []byte { return f }
	clearA := func(f []byte) []byte { return f }
	now := time.Now()
	honest := newHonest(t, rk, honestID)
	honestName := honest.profile("Hana", now)
	rep := newHonest(t, rk, replayID)
	ghost := newHonest(t, rk, ghostID) // its whole session was recorded an hour ago
	swap := newHonest(t, rk, swapID)
	mute := newHonest(t, rk, muteID)
	early := newHonest(t, rk, earlyID)
	track := func(id, kind, source string, next func(i int) []byte) *fakeTrack {
		every := videoEvery
		if kind == "audio" {
			every = audioEvery
		}
		return &fakeTrack{id: id, kind: kind, source: source, every: every, next: next}
	}
	peers := []*fakePeer{
		{id: honestID, profile: honestName, tracks: []*fakeTrack{
			track("honest-video", "video", "camera", videoOf(m, honest.video(e2ee.SourceCamera))),
			track("honest-audio", "audio", "microphone", audioOf(m, honest.audio())),
		}},
		{id: evilID, profile: honestName, tracks: []*fakeTrack{
			track("evil-video", "video", "camera", videoOf(m, clearV)),
			track("evil-audio", "audio", "microphone", audioOf(m, clearA)),
		}},
		{id: replayID, profile: rep.profile("Rita", now), tracks: []*fakeTrack{
			// Genuine media, then its first frames again once they are
			// more than a replay window (128 frames) old: 6 s in, video at
			// 30 frames/s. (A frame the receiver never got, say one sent
			// before it connected, is accepted once if it arrives within
			// the window: docs/e2ee.md §4.1.)
			{id: "replay-video", kind: "video", source: "camera", every: time.Second / 30, next: replaying(videoOf(m, rep.video(e2ee.SourceCamera)), 45, 180)},
			track("replay-audio", "audio", "microphone", replaying(audioOf(m, rep.audio()), 150, 300)),
		}},
		{id: ghostID, profile: ghost.profile("Gus", now.Add(-time.Hour)), tracks: []*fakeTrack{
			track("ghost-video", "video", "camera", videoOf(m, ghost.video(e2ee.SourceCamera))),
		}},
		{id: moverID, profile: honestName},
		{id: swapID, profile: swap.profile("Sam", now), tracks: []*fakeTrack{
			track("swap-camera", "video", "screen", videoOf(m, swap.video(e2ee.SourceCamera))),
			track("swap-screen", "video", "camera", videoOf(m, swap.video(e2ee.SourceScreen))),
		}},
		{id: muteID, profile: mute.profile("Mo", now), tracks: []*fakeTrack{
			track("mute-audio", "audio", "microphone", func(int) []byte { return []byte{0xf8, 0xff, 0xfe, 0, 0xff} }),
		}},
		{id: earlyID, profile: early.profile("Eli", now), tracks: []*fakeTrack{
			track("early-video", "video", "camera", videoOf(m, clearV)),
			track("early-audio", "audio", "microphone", audioOf(m, clearA)),
		}},
	}
	hello := honest.chat("hello from Hana")
	moved := honest.chat("second from Hana")
	h := startHostile(t, peers, func(c *hostileConn) {
		c.Chat(honestID, hello)
		time.Sleep(300 * time.Millisecond)
		c.Chat(honestID, hello) // replayed
		c.Chat(replayID, moved) // moved to another sender
	})
	q := url.Values{"autojoin": {"1"}, "video": {"low"}, "e2eepath": {path}}
	vic := open(h.URL + "/r/" + hostileRoom + "?" + q.Encode() + nameFragment(hostileKey, "Vic"))
	vic.waitFor(t, "in the call", `meetTest.screen() === 'call'`, 20*time.Second)
	var got string
	if err := vic.eval(context.Background(), `meetTest.self().path`, &got); err != nil || (path != "auto" && got != path) || got == "" {
		t.Fatalf("the victim uses Encoded Transform path %q (%v), want %q", got, err, path)
	}
	t.Logf("victim on %s", got)

	// The honest participant is seen, heard and read: the checks can fail.
	vic.waitFor(t, "honest video decoded and shown", fmt.Sprintf(
		`(await meetTest.stats())[%q]?.framesDecoded > 10 && %s[%q] === 'audio,video'`,
		honestID, renderedBy, honestID), 20*time.Second)
	vic.waitFor(t, "the replayer's genuine media shown", fmt.Sprintf(`%s[%q] === 'audio,video'`, renderedBy, replayID), 10*time.Second)
	vic.waitFor(t, "honest chat shown once", `meetTest.messages().filter(m => m.text === 'hello from Hana' && m.readable && m.name === 'Hana').length === 1`, 10*time.Second)

	// Replay: once the recording plays back, nothing more of it is shown.
	vic.waitFor(t, "replayed media refused with a warning", fmt.Sprintf(
		`!%s[%q] && document.querySelector('.tile[data-id=%q][data-problem=replay] .tile-alert:not([hidden])')`, renderedBy, replayID, replayID), 15*time.Second)
	before := vicStats(t, vic)[replayID].FramesDecoded
	time.Sleep(1500 * time.Millisecond)
	if after := vicStats(t, vic)[replayID].FramesDecoded; after != before {
		t.Errorf("%s: %d replayed frames were decoded", path, after-before)
	}

	// Nothing but the honest participant's media is rendered or played.
	var shown map[string]string
	if err := vic.eval(context.Background(), renderedBy, &shown); err != nil {
		t.Fatal(err)
	}
	for id, kinds := range shown {
		if id != honestID && id != "self" {
			t.Errorf("%s: the page plays %s of %q, an attacker", path, kinds, id)
		}
	}
	var ps []hostileView
	if err := vic.eval(context.Background(), `meetTest.participants()`, &ps); err != nil {
		t.Fatal(err)
	}
	seen := map[string]hostileView{}
	for _, p := range ps {
		seen[p.ID] = p
	}
	want := map[string]func(p hostileView) bool{
		honestID: func(p hostileView) bool { return p.Name == "Hana" && p.DecryptState == "ok" },
		replayID: func(p hostileView) bool {
			return p.Name == "Rita" && p.DecryptState == "failing" && p.Problem == "replay"
		},
		ghostID: func(p hostileView) bool {
			return p.Name == "" && p.ProfileRefused == "stale" && p.DecryptState == "failing" && p.Problem == "unverified"
		},
		moverID: func(p hostileView) bool { return p.Name == "" && p.NameUnreadable },
		swapID:  func(p hostileView) bool { return p.Name == "Sam" && p.DecryptState == "failing" && p.Problem == "auth" },
		muteID: func(p hostileView) bool {
			return p.Name == "Mo" && p.DecryptState == "failing" && p.Problem == "injected"
		},
		earlyID: func(p hostileView) bool { return p.Name == "Eli" && p.DecryptState == "failing" },
	}
	for id, ok := range want {
		if p, found := seen[id]; !found || !ok(p) {
			t.Errorf("%s: the page shows %s as %+v", path, id, p)
		}
	}
	if _, found := seen[evilID]; found {
		t.Errorf("%s: the page lists the invalid participant %q", path, evilID)
	}
	for _, id := range []string{replayID, ghostID, swapID, muteID, earlyID} {
		var alert bool
		_ = vic.eval(context.Background(), fmt.Sprintf(`!!document.querySelector('.tile[data-id=%q] .tile-alert:not([hidden])')`, id), &alert)
		if !alert {
			t.Errorf("%s: no warning on the tile of %s", path, id)
		}
	}

	// Chat: the replayed copy and the moved message are refused, with warnings.
	var msgs []struct {
		From     string `json:"from"`
		Text     string `json:"text"`
		Readable bool   `json:"readable"`
		System   bool   `json:"system"`
	}
	if err := vic.eval(context.Background(), `meetTest.messages()`, &msgs); err != nil {
		t.Fatal(err)
	}
	var invalid, replayedChat, replayedProfile bool
	for _, c := range msgs {
		switch {
		case c.Text == "second from Hana":
			t.Errorf("%s: the moved chat message was shown: %+v", path, c)
		case c.System && strings.Contains(c.Text, "invalid participant id"):
			invalid = true
		case c.System && strings.Contains(c.Text, "replayed a chat message"):
			replayedChat = true
		case c.System && strings.Contains(c.Text, "replayed profile"):
			replayedProfile = true
		}
	}
	if !invalid || !replayedChat || !replayedProfile {
		t.Errorf("%s: chat warnings: invalid id %v, replayed chat %v, replayed profile %v; messages %+v", path, invalid, replayedChat, replayedProfile, msgs)
	}
}

// hostileView is meetTest.participants() of the victim.
type hostileView struct {
	ID             string `json:"id"`
	Name           string `json:"name"`
	NameUnreadable bool   `json:"nameUnreadable"`
	DecryptState   string `json:"decryptState"`
	Problem        string `json:"problem"`
	ProfileRefused string `json:"profileRefused"`
}

// renderedBy is a page expression: for every participant some audio or
// video element of the page plays media of, the kinds it plays ("audio",
// "video" or "audio,video"), by the id of the tile the element is in
// ("self" for our own preview, "outside" for one in no tile). Track ids
// are not used: Firefox does not take them from the SDP.
const renderedBy = `(() => {
  const kinds = {};
  for (const e of document.querySelectorAll('video, audio')) {
    const tracks = e.srcObject ? e.srcObject.getTracks() : [];
    if (!tracks.length) continue;
    const tile = e.closest('.tile');
    const id = !tile ? 'outside' : (tile.dataset.key || '').startsWith('self') ? 'self' : tile.dataset.id;
    kinds[id] = [...new Set([...(kinds[id] || '').split(',').filter(Boolean), ...tracks.map((t) => t.kind)])].sort().join(',');
  }
  return kinds;
})()`

func vicStats(t *testing.T, tb victimPage) map[string]remoteStats {
	t.Helper()
	var s map[string]remoteStats
	if err := tb.eval(context.Background(), `meetTest.stats()`, &s); err != nil {
		t.Fatalf("stats: %v", err)
	}
	return s
}
