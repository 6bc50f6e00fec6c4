package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/pion/ice/v4"
	"github.com/pion/webrtc/v4"
	"github.com/pion/webrtc/v4/pkg/media"

	"github.com/monkeythorn/meet/web"
)

// hostileServer is a test double of the meeting server that lies. It serves
// the genuine embedded web client (web.Handler, so the page and the E2EE
// library are exactly what the real binary serves), hands out tokens for
// any room, and speaks the signaling protocol of docs/protocol.md with Pion
// on the media side. What it announces and sends is up to the test: ids the
// client must refuse, recorded frames replayed, sealed names and chat moved
// to other senders, tracks relabelled, frames it made itself. It stands for
// a server whose operator (or intruder) wants to put words in someone's mouth.
type hostileServer struct {
	t   *testing.T
	URL string
	api *webrtc.API
	// peers are the participants the double claims are in the room.
	peers []*fakePeer
	// onJoin runs once the victim's sub connection is up, for the test's
	// own signaling lies (chat, profile updates).
	onJoin func(c *hostileConn)
	conns  chan *hostileConn
	upg    websocket.Upgrader
}

// fakePeer is one participant as the double announces it.
type fakePeer struct {
	id      string // announced participant id (and msid stream id)
	profile string // announced sealed profile
	tracks  []*fakeTrack
}

// fakeTrack is one media track of a fakePeer: what the double announces
// (source) and what it sends (next: the frame for a given count, nil to
// skip one).
type fakeTrack struct {
	id     string // msid track id; browsers use it as MediaStreamTrack.id
	kind   string // "audio" or "video"
	source string // as announced in track-published
	every  time.Duration
	next   func(i int) []byte
	local  *webrtc.TrackLocalStaticSample
}

func startHostile(t *testing.T, peers []*fakePeer, onJoin func(c *hostileConn)) *hostileServer {
	t.Helper()
	h := &hostileServer{t: t, api: hostilePion(t), peers: peers, onJoin: onJoin, conns: make(chan *hostileConn, 4)}
	page := web.Handler()
	mux := http.NewServeMux()
	mux.HandleFunc("POST /api/token", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		ws := "ws" + strings.TrimPrefix(h.URL, "http") + "/ws"
		fmt.Fprintf(w, `{"token":"hostile-token","ws":%q,"iceServers":[],"expiresAt":%d}`, ws, time.Now().Add(time.Minute).UnixMilli())
	})
	mux.HandleFunc("GET /ws", h.serveWS)
	mux.Handle("/", page)
	srv := httptest.NewServer(mux)
	h.URL = srv.URL
	t.Cleanup(func() {
		srv.CloseClientConnections()
		srv.Close()
	})
	return h
}

func hostilePion(t *testing.T) *webrtc.API {
	t.Helper()
	me := &webrtc.MediaEngine{}
	if err := me.RegisterDefaultCodecs(); err != nil {
		t.Fatal(err)
	}
	se := webrtc.SettingEngine{}
	se.SetIncludeLoopbackCandidate(true)
	se.SetNetworkTypes([]webrtc.NetworkType{webrtc.NetworkTypeUDP4})
	se.SetIPFilter(func(ip net.IP) bool { return ip.IsLoopback() })
	se.SetICEMulticastDNSMode(ice.MulticastDNSModeDisabled)
	return webrtc.NewAPI(webrtc.WithMediaEngine(me), webrtc.WithSettingEngine(se))
}

// hostileConn is the double's side of one victim page.
type hostileConn struct {
	h        *hostileServer
	ws       *websocket.Conn
	wmu      sync.Mutex
	pub, sub *webrtc.PeerConnection
	ctx      context.Context
	stop     context.CancelFunc
	wg       sync.WaitGroup
	victimID string
}

// send writes one signaling message; errors end the connection later.
func (c *hostileConn) send(msg any) {
	b, err := json.Marshal(msg)
	if err != nil {
		c.h.t.Errorf("hostile: marshal: %v", err)
		return
	}
	c.wmu.Lock()
	defer c.wmu.Unlock()
	_ = c.ws.SetWriteDeadline(time.Now().Add(5 * time.Second))
	_ = c.ws.WriteMessage(websocket.TextMessage, b)
}

// Chat relays a sealed chat message as if from.
func (c *hostileConn) Chat(from, sealed string) {
	c.send(map[string]any{"type": "chat", "from": from, "data": sealed})
}

// Profile announces a (changed) profile of id.
func (c *hostileConn) Profile(id, sealed string) {
	c.send(map[string]any{"type": "participant-updated", "participant": map[string]any{"id": id, "profile": sealed}})
}

func (h *hostileServer) serveWS(w http.ResponseWriter, r *http.Request) {
	ws, err := h.upg.Upgrade(w, r, nil)
	if err != nil {
		return
	}
	ctx, stop := context.WithCancel(context.Background())
	c := &hostileConn{h: h, ws: ws, ctx: ctx, stop: stop, victimID: "victimAAAAAAAAAAAAAAAA"}
	h.t.Cleanup(c.close)
	c.run()
}

func (c *hostileConn) close() {
	c.stop()
	_ = c.ws.Close()
	if c.pub != nil {
		_ = c.pub.Close()
	}
	if c.sub != nil {
		_ = c.sub.Close()
	}
	c.wg.Wait()
}

type hostileMsg struct {
	Type      string                   `json:"type"`
	PC        string                   `json:"pc"`
	SDP       string                   `json:"sdp"`
	Candidate *webrtc.ICECandidateInit `json:"candidate"`
}

// run reads the victim's messages until the socket closes.
func (c *hostileConn) run() {
	t := c.h.t
	for {
		_, data, err := c.ws.ReadMessage()
		if err != nil {
			return
		}
		var m hostileMsg
		if err := json.Unmarshal(data, &m); err != nil {
			t.Errorf("hostile: bad message from the page: %v", err)
			return
		}
		switch m.Type {
		case "join":
			c.welcome()
		case "offer":
			if m.PC == "pub" {
				c.answerPub(m.SDP)
			}
		case "answer":
			if m.PC == "sub" && c.sub != nil {
				if err := c.sub.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeAnswer, SDP: m.SDP}); err != nil {
					t.Errorf("hostile: sub answer: %v", err)
					continue
				}
				c.startPumps()
				if c.h.onJoin != nil {
					go c.h.onJoin(c)
				}
			}
		case "candidate":
			pc := c.pub
			if m.PC == "sub" {
				pc = c.sub
			}
			if pc != nil && m.Candidate != nil {
				_ = pc.AddICECandidate(*m.Candidate)
			}
		}
	}
}

func (c *hostileConn) welcome() {
	var parts []map[string]any
	for _, p := range c.h.peers {
		var tracks []map[string]any
		for _, tr := range p.tracks {
			tracks = append(tracks, map[string]any{"id": tr.id, "participant": p.id, "kind": tr.kind, "source": tr.source})
		}
		parts = append(parts, map[string]any{"id": p.id, "profile": p.profile, "audioMuted": false, "videoMuted": false, "tracks": tracks})
	}
	c.send(map[string]any{"type": "welcome", "v": 1, "id": c.victimID, "e2ee": true, "participants": parts})
	c.offerSub()
}

// answerPub takes whatever the page publishes and throws it away.
func (c *hostileConn) answerPub(sdp string) {
	t := c.h.t
	if c.pub == nil {
		pc, err := c.h.api.NewPeerConnection(webrtc.Configuration{})
		if err != nil {
			t.Errorf("hostile: pub: %v", err)
			return
		}
		pc.OnTrack(func(tr *webrtc.TrackRemote, _ *webrtc.RTPReceiver) {
			buf := make([]byte, 1500)
			for {
				if _, _, err := tr.Read(buf); err != nil {
					return
				}
			}
		})
		c.pub = pc
	}
	if err := c.pub.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeOffer, SDP: sdp}); err != nil {
		t.Errorf("hostile: pub offer: %v", err)
		return
	}
	c.send(map[string]any{"type": "answer", "pc": "pub", "sdp": c.localAfterGathering(c.pub, false)})
}

// offerSub offers the fake peers' tracks, with all candidates in the SDP.
func (c *hostileConn) offerSub() {
	t := c.h.t
	pc, err := c.h.api.NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		t.Errorf("hostile: sub: %v", err)
		return
	}
	c.sub = pc
	for _, p := range c.h.peers {
		for _, tr := range p.tracks {
			mime := webrtc.MimeTypeVP8
			if tr.kind == "audio" {
				mime = webrtc.MimeTypeOpus
			}
			local, err := webrtc.NewTrackLocalStaticSample(webrtc.RTPCodecCapability{MimeType: mime, ClockRate: clockRate(mime), Channels: channels(mime)}, tr.id, p.id)
			if err != nil {
				t.Errorf("hostile: track: %v", err)
				return
			}
			tr.local = local
			snd, err := pc.AddTrack(local)
			if err != nil {
				t.Errorf("hostile: add track: %v", err)
				return
			}
			c.wg.Add(1)
			go func() {
				defer c.wg.Done()
				buf := make([]byte, 1500)
				for {
					if _, _, err := snd.Read(buf); err != nil {
						return
					}
				}
			}()
		}
	}
	c.send(map[string]any{"type": "offer", "pc": "sub", "sdp": c.localAfterGathering(pc, true)})
}

func clockRate(mime string) uint32 {
	if mime == webrtc.MimeTypeOpus {
		return 48000
	}
	return 90000
}

func channels(mime string) uint16 {
	if mime == webrtc.MimeTypeOpus {
		return 2
	}
	return 0
}

// localAfterGathering makes an offer or answer and returns it with every
// candidate, so the double never trickles.
func (c *hostileConn) localAfterGathering(pc *webrtc.PeerConnection, offer bool) string {
	var desc webrtc.SessionDescription
	var err error
	if offer {
		desc, err = pc.CreateOffer(nil)
	} else {
		desc, err = pc.CreateAnswer(nil)
	}
	if err != nil {
		c.h.t.Errorf("hostile: create: %v", err)
		return ""
	}
	done := webrtc.GatheringCompletePromise(pc)
	if err := pc.SetLocalDescription(desc); err != nil {
		c.h.t.Errorf("hostile: set local: %v", err)
		return ""
	}
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		c.h.t.Errorf("hostile: ICE gathering did not complete")
	}
	return pc.LocalDescription().SDP
}

// startPumps sends every fake track's frames at its pace until the
// connection closes (bounded by the test's lifetime).
func (c *hostileConn) startPumps() {
	for _, p := range c.h.peers {
		for _, tr := range p.tracks {
			c.wg.Add(1)
			go func() {
				defer c.wg.Done()
				tick := time.NewTicker(tr.every)
				defer tick.Stop()
				for i := 0; ; i++ {
					select {
					case <-c.ctx.Done():
						return
					case <-tick.C:
					}
					if f := tr.next(i); f != nil {
						_ = tr.local.WriteSample(media.Sample{Data: f, Duration: tr.every})
					}
				}
			}()
		}
	}
}
