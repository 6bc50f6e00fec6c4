package server

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"github.com/monkeythorn/meet/internal/leaktest"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/pion/ice/v4"
	"github.com/pion/rtp/codecs"
	"github.com/pion/webrtc/v4"
	"github.com/pion/webrtc/v4/pkg/media"

	"github.com/monkeythorn/meet/signaling"
)

// Synthetic media. Every payload carries a marker, the publisher's index,
// a frame counter and a pattern derived from both, so a receiver can tell
// an intact payload from a corrupted, truncated or misrouted one.
var (
	videoMarker = []byte("MTVV")
	audioMarker = []byte("MTAA")
)

const (
	vp8HeaderLen = 10  // key frame header: 3-byte frame tag, start code, size
	videoLen     = 300 // one RTP packet per frame
	audioLen     = 80
)

// videoFrame builds a VP8 frame with a real frame tag: bit 0 of the first
// byte is 0 on key frames, and key frames carry the start code 9d 01 2a and
// a 160x120 size, which is what the SFU looks at to find key frames.
func videoFrame(pub byte, n uint32, key bool) []byte {
	f := make([]byte, videoLen)
	if key {
		f[0] = 0x10 // key frame, version 0, show_frame
		copy(f[3:6], []byte{0x9d, 0x01, 0x2a})
		binary.LittleEndian.PutUint16(f[6:8], 160)
		binary.LittleEndian.PutUint16(f[8:10], 120)
	} else {
		f[0] = 0x11 // inter frame
	}
	fillPattern(f[vp8HeaderLen:], videoMarker, pub, n)
	return f
}

func audioFrame(pub byte, n uint32) []byte {
	f := make([]byte, audioLen)
	f[0] = 0x78 // Opus TOC: CELT FB 20 ms, one frame
	fillPattern(f[1:], audioMarker, pub, n)
	return f
}

func fillPattern(b, marker []byte, pub byte, n uint32) {
	copy(b, marker)
	b[4] = pub
	binary.BigEndian.PutUint32(b[5:9], n)
	for i := 9; i < len(b); i++ {
		b[i] = byte(i*7) ^ byte(n) ^ pub
	}
}

// checkPattern returns the publisher index of an intact payload.
func checkPattern(b, marker []byte) (byte, bool) {
	if len(b) < 9 || !bytes.Equal(b[:4], marker) {
		return 0, false
	}
	want := make([]byte, len(b))
	fillPattern(want, marker, b[4], binary.BigEndian.Uint32(b[5:9]))
	return b[4], bytes.Equal(b, want)
}

// pionClient is a participant as a browser would be: a WebSocket, a
// publisher connection it offers on and a subscriber connection the server
// offers on. All network traffic stays on loopback.
type pionClient struct {
	t     *testing.T
	index byte
	id    string
	ws    *websocket.Conn
	wsMu  sync.Mutex
	pub   *webrtc.PeerConnection
	sub   *webrtc.PeerConnection
	audio *webrtc.TrackLocalStaticSample
	video *webrtc.TrackLocalStaticSample

	offerMu   sync.Mutex
	offerSent bool
	// redirected gets the signaling URL the server sent this client to
	// in the middle of the call (its room moved to another node).
	redirected chan string
	held       []webrtc.ICECandidateInit

	left     chan string   // ids from participant-left
	gone     chan struct{} // closed when the signaling connection ends
	stop     chan struct{}
	stopOnce sync.Once
	wg       sync.WaitGroup

	mu       sync.Mutex
	received map[string]int  // "<publisher index>/<kind>" -> intact packets
	streams  map[byte]string // publisher index -> msid stream id seen
	bad      atomic.Int64
	firstBad string
	errs     chan error
}

func newPionAPI(t *testing.T, networks ...webrtc.NetworkType) *webrtc.API {
	t.Helper()
	me := &webrtc.MediaEngine{}
	if err := me.RegisterDefaultCodecs(); err != nil {
		t.Fatal(err)
	}
	se := webrtc.SettingEngine{}
	se.SetIncludeLoopbackCandidate(true)
	if len(networks) == 0 {
		networks = []webrtc.NetworkType{webrtc.NetworkTypeUDP4}
	}
	se.SetNetworkTypes(networks)
	se.SetIPFilter(func(ip net.IP) bool { return ip.IsLoopback() })
	se.SetICEMulticastDNSMode(ice.MulticastDNSModeDisabled)
	return webrtc.NewAPI(webrtc.WithMediaEngine(me), webrtc.WithSettingEngine(se))
}

func joinPion(t *testing.T, ts *testServer, room string, index byte) *pionClient {
	t.Helper()
	return joinPionWith(t, ts, room, index, pionOptions{})
}

// pionOptions vary how a client reaches the SFU (ops_test.go): through
// the welcome's TURN servers only, or over ICE-TCP only.
type pionOptions struct {
	relayOnly bool                 // ICETransportPolicyRelay with the welcome's iceServers
	networks  []webrtc.NetworkType // default UDP4
}

func joinPionWith(t *testing.T, ts *testServer, room string, index byte, opts pionOptions) *pionClient {
	t.Helper()
	tr := ts.token(room, true)
	ws, _, err := websocket.DefaultDialer.Dial(tr.WS, nil)
	if err != nil {
		t.Fatal(err)
	}
	c := newPionClient(t, ws, index)
	c.send(signaling.Join{Type: signaling.TypeJoin, Version: signaling.Version, Token: tr.Token, Room: room})
	var w signaling.Welcome
	_ = c.ws.SetReadDeadline(time.Now().Add(5 * time.Second))
	if err := c.ws.ReadJSON(&w); err != nil || w.Type != signaling.TypeWelcome {
		t.Fatalf("client %d: welcome: %+v %v", index, w, err)
	}
	_ = c.ws.SetReadDeadline(time.Time{})
	c.start(w, opts)
	return c
}

func newPionClient(t *testing.T, ws *websocket.Conn, index byte) *pionClient {
	return &pionClient{t: t, index: index, ws: ws, left: make(chan string, 8), redirected: make(chan string, 1), gone: make(chan struct{}), stop: make(chan struct{}),
		received: map[string]int{}, streams: map[byte]string{}, errs: make(chan error, 16)}
}

// start sets up the joined client's two connections, publishes audio and
// video and begins checking what it receives.
func (c *pionClient) start(w signaling.Welcome, opts pionOptions) {
	t := c.t
	c.id = w.ID
	pcConf := webrtc.Configuration{}
	if opts.relayOnly {
		pcConf.ICETransportPolicy = webrtc.ICETransportPolicyRelay
		for _, s := range w.ICEServers {
			pcConf.ICEServers = append(pcConf.ICEServers, webrtc.ICEServer{URLs: s.URLs, Username: s.Username, Credential: s.Credential})
		}
	}
	var err error
	if c.pub, err = newPionAPI(t, opts.networks...).NewPeerConnection(pcConf); err != nil {
		t.Fatal(err)
	}
	if c.sub, err = newPionAPI(t, opts.networks...).NewPeerConnection(pcConf); err != nil {
		t.Fatal(err)
	}
	c.pub.OnICECandidate(c.onPubCandidate)
	c.sub.OnICECandidate(func(ci *webrtc.ICECandidate) { c.sendCandidate(signaling.PCSub, ci) })
	c.sub.OnTrack(c.onTrack)
	stream := fmt.Sprintf("client-%d", c.index)
	if c.audio, err = webrtc.NewTrackLocalStaticSample(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeOpus, ClockRate: 48000, Channels: 2}, "audio", stream); err != nil {
		t.Fatal(err)
	}
	if c.video, err = webrtc.NewTrackLocalStaticSample(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeVP8, ClockRate: 90000}, "video", stream); err != nil {
		t.Fatal(err)
	}
	c.wg.Add(1)
	go c.readLoop()
	c.publish()
	c.wg.Add(1)
	go c.sendMedia()
}

func (c *pionClient) send(v any) {
	c.wsMu.Lock()
	defer c.wsMu.Unlock()
	_ = c.ws.SetWriteDeadline(time.Now().Add(5 * time.Second))
	if err := c.ws.WriteJSON(v); err != nil {
		c.fail(fmt.Errorf("client %d: write: %w", c.index, err))
	}
}

func (c *pionClient) fail(err error) {
	select {
	case c.errs <- err:
	default:
	}
}

func (c *pionClient) publish() {
	for _, tr := range []webrtc.TrackLocal{c.audio, c.video} {
		tx, err := c.pub.AddTransceiverFromTrack(tr, webrtc.RTPTransceiverInit{Direction: webrtc.RTPTransceiverDirectionSendonly})
		if err != nil {
			c.t.Fatal(err)
		}
		go drainRTCP(tx.Sender())
	}
	offer, err := c.pub.CreateOffer(nil)
	if err != nil {
		c.t.Fatal(err)
	}
	c.offerMu.Lock()
	defer c.offerMu.Unlock()
	if err := c.pub.SetLocalDescription(offer); err != nil {
		c.t.Fatal(err)
	}
	var tracks []signaling.TrackSource
	for _, tx := range c.pub.GetTransceivers() {
		source := "microphone"
		if tx.Kind() == webrtc.RTPCodecTypeVideo {
			source = "camera"
		}
		tracks = append(tracks, signaling.TrackSource{Mid: tx.Mid(), Source: source})
	}
	c.send(signaling.Offer{Type: signaling.TypeOffer, PC: signaling.PCPub, SDP: c.pub.LocalDescription().SDP, Tracks: tracks})
	c.offerSent = true
	for _, h := range c.held {
		c.send(signaling.Candidate{Type: signaling.TypeCandidate, PC: signaling.PCPub, Candidate: toWire(h)})
	}
	c.held = nil
}

// drainRTCP reads the SFU's feedback so the interceptors see it; it ends
// when the sender is stopped.
func drainRTCP(s *webrtc.RTPSender) {
	buf := make([]byte, 1500)
	for {
		if _, _, err := s.Read(buf); err != nil {
			return
		}
	}
}

// onPubCandidate holds candidates until the offer is on its way, as a
// browser client does.
func (c *pionClient) onPubCandidate(ci *webrtc.ICECandidate) {
	c.offerMu.Lock()
	defer c.offerMu.Unlock()
	if !c.offerSent {
		if ci != nil {
			c.held = append(c.held, ci.ToJSON())
		}
		return
	}
	c.sendCandidate(signaling.PCPub, ci)
}

func (c *pionClient) sendCandidate(pc signaling.PC, ci *webrtc.ICECandidate) {
	m := signaling.Candidate{Type: signaling.TypeCandidate, PC: pc}
	if ci != nil {
		m.Candidate = toWire(ci.ToJSON())
	}
	c.send(m)
}

func toWire(i webrtc.ICECandidateInit) *signaling.ICECandidate {
	return &signaling.ICECandidate{Candidate: i.Candidate, SDPMid: i.SDPMid, SDPMLineIndex: i.SDPMLineIndex, UsernameFragment: i.UsernameFragment}
}

// readLoop applies what the server sends. A candidate that cannot be added
// (for example because it came before its description) fails the test.
func (c *pionClient) readLoop() {
	defer c.wg.Done()
	defer close(c.gone)
	for {
		_, data, err := c.ws.ReadMessage()
		if err != nil {
			return
		}
		var env signaling.Envelope
		_ = json.Unmarshal(data, &env)
		switch env.Type {
		case signaling.TypeAnswer:
			var a signaling.Answer
			_ = json.Unmarshal(data, &a)
			if err := c.pub.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeAnswer, SDP: a.SDP}); err != nil {
				c.fail(fmt.Errorf("client %d: pub answer: %w", c.index, err))
			}
		case signaling.TypeOffer:
			var o signaling.Offer
			_ = json.Unmarshal(data, &o)
			c.answerSub(o.SDP)
		case signaling.TypeCandidate:
			var m signaling.Candidate
			_ = json.Unmarshal(data, &m)
			if m.Candidate == nil {
				continue
			}
			pc := c.pub
			if m.PC == signaling.PCSub {
				pc = c.sub
			}
			ci := m.Candidate
			if err := pc.AddICECandidate(webrtc.ICECandidateInit{Candidate: ci.Candidate, SDPMid: ci.SDPMid, SDPMLineIndex: ci.SDPMLineIndex, UsernameFragment: ci.UsernameFragment}); err != nil {
				c.fail(fmt.Errorf("client %d: %s candidate: %w", c.index, m.PC, err))
			}
		case signaling.TypeLeft:
			var l signaling.ParticipantLeft
			_ = json.Unmarshal(data, &l)
			c.left <- l.ID
		case signaling.TypeRedirect:
			var r signaling.Redirect
			_ = json.Unmarshal(data, &r)
			select {
			case c.redirected <- r.URL:
			default:
			}
		case signaling.TypeError:
			c.fail(fmt.Errorf("client %d: server error %s", c.index, data))
		}
	}
}

func (c *pionClient) answerSub(sdp string) {
	if err := c.sub.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeOffer, SDP: sdp}); err != nil {
		c.fail(fmt.Errorf("client %d: sub offer: %w", c.index, err))
		return
	}
	ans, err := c.sub.CreateAnswer(nil)
	if err == nil {
		err = c.sub.SetLocalDescription(ans)
	}
	if err != nil {
		c.fail(fmt.Errorf("client %d: sub answer: %w", c.index, err))
		return
	}
	c.send(signaling.Answer{Type: signaling.TypeAnswer, PC: signaling.PCSub, SDP: c.sub.LocalDescription().SDP})
}

// onTrack checks every packet of a forwarded track.
func (c *pionClient) onTrack(tr *webrtc.TrackRemote, _ *webrtc.RTPReceiver) {
	kind := tr.Kind().String()
	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		for {
			pkt, _, err := tr.ReadRTP()
			if err != nil {
				return
			}
			payload, marker := pkt.Payload, audioMarker
			if tr.Kind() == webrtc.RTPCodecTypeVideo {
				var vp8 codecs.VP8Packet
				if _, err := vp8.Unmarshal(pkt.Payload); err != nil || len(vp8.Payload) < vp8HeaderLen {
					c.bad.Add(1)
					continue
				}
				payload, marker = vp8.Payload[vp8HeaderLen:], videoMarker
			} else if len(payload) > 0 {
				payload = payload[1:] // TOC byte
			}
			pub, ok := checkPattern(payload, marker)
			c.mu.Lock()
			if ok && tr.StreamID() != "" {
				c.received[fmt.Sprintf("%d/%s", pub, kind)]++
				c.streams[pub] = tr.StreamID()
			} else {
				c.bad.Add(1)
				if c.firstBad == "" {
					c.firstBad = fmt.Sprintf("%s from stream %q: %x", kind, tr.StreamID(), pkt.Payload[:min(len(pkt.Payload), 32)])
				}
			}
			c.mu.Unlock()
		}
	}()
}

// sendMedia writes 20 ms audio frames and 40 ms video frames, a key frame
// every 10 video frames; bounded to 60 s in case a test forgets to stop.
func (c *pionClient) sendMedia() {
	defer c.wg.Done()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for n := uint32(0); n < 3000; n++ {
		select {
		case <-c.stop:
			return
		case <-tick.C:
		}
		_ = c.audio.WriteSample(media.Sample{Data: audioFrame(c.index, n), Duration: 20 * time.Millisecond})
		if n%2 == 0 {
			v := n / 2
			_ = c.video.WriteSample(media.Sample{Data: videoFrame(c.index, v, v%10 == 0), Duration: 40 * time.Millisecond})
		}
	}
}

func (c *pionClient) count(pub byte, kind string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.received[fmt.Sprintf("%d/%s", pub, kind)]
}

// leave says goodbye and tears the client down, waiting for its goroutines.
func (c *pionClient) leave() {
	c.stopOnce.Do(func() {
		close(c.stop)
		c.send(signaling.Leave{Type: signaling.TypeLeave})
		_ = c.pub.Close()
		_ = c.sub.Close()
		_ = c.ws.Close()
		c.wg.Wait()
	})
}

func (c *pionClient) checkErrors(t *testing.T) {
	t.Helper()
	for {
		select {
		case err := <-c.errs:
			t.Error(err)
		default:
			c.mu.Lock()
			defer c.mu.Unlock()
			if n := c.bad.Load(); n > 0 {
				t.Errorf("client %d: %d packets not intact; first: %s", c.index, n, c.firstBad)
			}
			return
		}
	}
}

// waitMedia waits until every client in to has n more intact audio and
// video packets from every client in from than it had at the start.
func waitMedia(t *testing.T, to, from []*pionClient, n int, timeout time.Duration) {
	t.Helper()
	base := map[string]int{}
	key := func(r, p *pionClient, kind string) string { return fmt.Sprintf("%d<-%d/%s", r.index, p.index, kind) }
	for _, r := range to {
		for _, p := range from {
			for _, k := range []string{"audio", "video"} {
				base[key(r, p, k)] = r.count(p.index, k)
			}
		}
	}
	deadline := time.Now().Add(timeout)
	for {
		var missing []string
		for _, r := range to {
			for _, p := range from {
				if r == p {
					continue
				}
				for _, k := range []string{"audio", "video"} {
					if got := r.count(p.index, k) - base[key(r, p, k)]; got < n {
						missing = append(missing, fmt.Sprintf("%s: %d", key(r, p, k), got))
					}
				}
			}
		}
		if len(missing) == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("after %v still missing media: %s", timeout, strings.Join(missing, ", "))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestCallThroughSFU runs a three-person call through /ws and the real SFU:
// everyone receives the others' audio and video intact, one leaves, and the
// other two keep receiving each other.
func TestCallThroughSFU(t *testing.T) {
	leaktest.Check(t)
	ts := newTestServer(t, nil)
	room := ts.newRoom()
	var clients []*pionClient
	for i := range 3 {
		c := joinPion(t, ts, room, byte(i+1))
		clients = append(clients, c)
		t.Cleanup(c.leave) // runs before the server's shutdown
	}
	waitMedia(t, clients, clients, 25, 20*time.Second)

	gone := clients[2]
	gone.leave()
	for _, c := range clients[:2] {
		select {
		case id := <-c.left:
			if id != gone.id {
				t.Errorf("client %d: participant-left for %s, want %s", c.index, id, gone.id)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("client %d: no participant-left", c.index)
		}
	}
	waitMedia(t, clients[:2], clients[:2], 25, 10*time.Second)
	for _, c := range clients {
		c.checkErrors(t)
		c.mu.Lock()
		t.Logf("client %d received %v", c.index, c.received)
		for _, p := range clients {
			// Subscribers see the publisher's participant id as the
			// stream id, which is how the page matches media to people.
			if got, ok := c.streams[p.index]; p != c && (!ok || got != p.id) {
				t.Errorf("client %d: stream id of client %d's media %q, want %q", c.index, p.index, got, p.id)
			}
		}
		c.mu.Unlock()
	}
	if n := ts.s.sfu.ParticipantCount(); n != 2 {
		t.Errorf("SFU has %d participants, want 2", n)
	}
}
