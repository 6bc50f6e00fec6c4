package sfu

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"github.com/monkeythorn/meet/internal/leaktest"
	"github.com/monkeythorn/meet/internal/poll"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pion/interceptor"
	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"
	"github.com/pion/webrtc/v4/pkg/media"
)

// testClient is a Pion peer that joins the SFU directly, playing the part
// signaling plays in production.
type testClient struct {
	t    *testing.T
	name byte
	p    *Participant
	pub  *webrtc.PeerConnection
	sub  *webrtc.PeerConnection

	closing atomic.Bool // teardown: late negotiation errors are expected

	mu       sync.Mutex
	pending  map[PCKind][]webrtc.ICECandidateInit // before the remote description
	events   []Event
	received map[string]*atomic.Int64 // publisher id + kind -> intact frames
	bad      atomic.Int64
	pad      int // bytes added to each video frame by publish
	// settleICE: before a renegotiation offer, wait (up to 2 s) until the
	// last answer's ICE agent runs. Pion's client, answering two offers in
	// quick succession, now and then starts its agent with credentials
	// other than the ones its answer carried, and never connects.
	settleICE bool
	// answerLate: answer an ICE restart only once the answer's candidates
	// have gone to the server, an order the network can bring them in.
	answerLate bool
	gathered   chan struct{} // the sub connection finished gathering
	// offerUfrag is the ICE ufrag of the last subscriber offer; early
	// counts the server's candidates that arrived before their offer.
	offerUfrag string
	early      atomic.Int64
}

// settle waits for the sub connection's ICE agent to start, if asked to
// and an answer was given.
func (c *testClient) settle() {
	if !c.settleICE || c.sub.CurrentLocalDescription() == nil {
		return
	}
	deadline := time.Now().Add(2 * time.Second)
	for c.sub.ICEConnectionState() == webrtc.ICEConnectionStateNew && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
}

func newTestSFU(t *testing.T) *SFU {
	t.Helper()
	s, err := New(Config{ListenIP: "127.0.0.1", IncludeLoopback: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func clientAPI(t *testing.T) *webrtc.API { return newClientAPI(t, nil) }

// newClientAPI builds a loopback Pion client with the default codecs;
// setup, if given, adds to its media engine and interceptors. No
// interceptors otherwise: the allocation test counts the whole process,
// and Pion's default interceptors allocate per packet on the client side.
//
// settings, if given, change its SettingEngine.
func newClientAPI(t *testing.T, setup func(*webrtc.MediaEngine, *interceptor.Registry) error, settings ...func(*webrtc.SettingEngine)) *webrtc.API {
	se := webrtc.SettingEngine{}
	se.SetIncludeLoopbackCandidate(true)
	se.SetNetworkTypes([]webrtc.NetworkType{webrtc.NetworkTypeUDP4})
	se.SetInterfaceFilter(func(name string) bool { return name == "lo" })
	for _, f := range settings {
		f(&se)
	}
	m := &webrtc.MediaEngine{}
	if err := m.RegisterDefaultCodecs(); err != nil {
		t.Fatal(err)
	}
	reg := &interceptor.Registry{}
	if setup != nil {
		if err := setup(m, reg); err != nil {
			t.Fatal(err)
		}
	}
	return webrtc.NewAPI(webrtc.WithMediaEngine(m), webrtc.WithSettingEngine(se), webrtc.WithInterceptorRegistry(reg))
}

// Signal and Event make testClient a Listener.
func (c *testClient) Signal(s Signal) {
	if c.closing.Load() {
		return
	}
	switch s := s.(type) {
	case *Offer:
		c.settle()
		c.mu.Lock()
		restart := c.offerUfrag != "" && c.offerUfrag != iceUfrag(s.SDP)
		c.offerUfrag = iceUfrag(s.SDP)
		c.mu.Unlock()
		if err := c.sub.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeOffer, SDP: s.SDP}); err != nil {
			if !c.closing.Load() { // else the test is over and closed the connection under the offer
				c.t.Errorf("client %c: sub offer: %v", c.name, err)
			}
			return
		}
		ans, err := c.sub.CreateAnswer(nil)
		if err == nil {
			select {
			case <-c.gathered:
			default:
			}
			err = c.sub.SetLocalDescription(ans)
		}
		if err == nil && c.answerLate && restart {
			select {
			case <-c.gathered:
			case <-time.After(5 * time.Second):
			}
		}
		if err == nil {
			err = c.p.Answer(ans.SDP)
		}
		if err != nil && !errors.Is(err, ErrParticipantGone) && !c.closing.Load() {
			c.t.Errorf("client %c: sub answer: %v", c.name, err)
		}
		c.flush(PCSubscriber)
	case *Candidate:
		if s.Init == nil {
			return
		}
		c.mu.Lock()
		if s.PC == PCSubscriber && s.Init.UsernameFragment != nil && *s.Init.UsernameFragment != c.offerUfrag {
			c.early.Add(1)
		}
		c.pending[s.PC] = append(c.pending[s.PC], *s.Init)
		c.mu.Unlock()
		c.flush(s.PC)
	}
}

// flush adds the server's candidates once the connection has the remote
// description: candidates and answers travel separately, so a candidate may
// arrive first (as for every client of the protocol).
func (c *testClient) flush(kind PCKind) {
	pc := c.pub
	if kind == PCSubscriber {
		pc = c.sub
	}
	if pc.RemoteDescription() == nil {
		return
	}
	c.mu.Lock()
	cands := c.pending[kind]
	c.pending[kind] = nil
	c.mu.Unlock()
	for _, ci := range cands {
		if err := pc.AddICECandidate(ci); err != nil && !c.closing.Load() {
			c.t.Errorf("client %c: add candidate: %v", c.name, err)
		}
	}
}

func (c *testClient) close() {
	c.closing.Store(true)
	c.p.Close()
	c.pub.Close()
	c.sub.Close()
}

func (c *testClient) Event(e Event) {
	c.mu.Lock()
	c.events = append(c.events, e)
	c.mu.Unlock()
}

func (c *testClient) count(from, kind string) int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := c.received[from+kind]
	if n == nil {
		return 0
	}
	return n.Load()
}

func joinClient(t *testing.T, s *SFU, room string, name byte) *testClient {
	t.Helper()
	api := clientAPI(t)
	return joinClientWith(t, s, room, name, api, api)
}

// joinClientWith joins a client whose connections come from pubAPI and
// subAPI; opts set it up before it joins.
func joinClientWith(t *testing.T, s *SFU, room string, name byte, pubAPI, subAPI *webrtc.API, opts ...func(*testClient)) *testClient {
	t.Helper()
	c := &testClient{t: t, name: name, received: map[string]*atomic.Int64{}, pending: map[PCKind][]webrtc.ICECandidateInit{}, gathered: make(chan struct{}, 1)}
	for _, o := range opts {
		o(c)
	}
	var err error
	if c.pub, err = pubAPI.NewPeerConnection(webrtc.Configuration{}); err != nil {
		t.Fatal(err)
	}
	if c.sub, err = subAPI.NewPeerConnection(webrtc.Configuration{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.close)
	c.p, err = s.Join(room, JoinOptions{ID: "id-" + string(name), Listener: c, Meta: Meta{Profile: string(name)}})
	if err != nil {
		t.Fatal(err)
	}
	for kind, pc := range map[PCKind]*webrtc.PeerConnection{PCPublisher: c.pub, PCSubscriber: c.sub} {
		kind := kind
		pc.OnICECandidate(func(ic *webrtc.ICECandidate) {
			switch {
			case ic != nil:
				c.p.AddICECandidate(kind, ic.ToJSON())
			case kind == PCSubscriber:
				select {
				case c.gathered <- struct{}{}:
				default:
				}
			}
		})
	}
	c.sub.OnTrack(func(tr *webrtc.TrackRemote, _ *webrtc.RTPReceiver) { c.consume(tr) })
	c.p.Start()
	return c
}

// consume checks every packet's payload carries the marker of its
// publisher, proving payloads pass unchanged.
func (c *testClient) consume(tr *webrtc.TrackRemote) {
	from := tr.StreamID()
	kind := tr.Kind().String()
	c.mu.Lock()
	n := c.received[from+kind]
	if n == nil {
		n = &atomic.Int64{}
		c.received[from+kind] = n
	}
	c.mu.Unlock()
	mark := []byte("MARK" + from)
	readRTP(tr, func(pkt *rtp.Packet) {
		if pkt == nil || !bytes.Contains(pkt.Payload, mark) {
			c.bad.Add(1)
			return
		}
		n.Add(1)
	})
}

// readRTP calls f with each packet read from tr until it ends, nil for
// one that does not parse. It reads into one buffer and one packet, which
// f must not keep: the allocation test counts every allocation in the
// process, the receiver's too.
func readRTP(tr *webrtc.TrackRemote, f func(*rtp.Packet)) {
	buf := make([]byte, 1500)
	var pkt rtp.Packet
	for {
		size, _, err := tr.Read(buf)
		if err != nil {
			return
		}
		if pkt.Unmarshal(buf[:size]) != nil {
			f(nil)
			continue
		}
		f(&pkt)
	}
}

// publish sends Opus and VP8 samples carrying a marker until stop closes.
func (c *testClient) publish(stop <-chan struct{}) {
	c.t.Helper()
	audio, _ := webrtc.NewTrackLocalStaticSample(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeOpus}, "a", "s")
	video, _ := webrtc.NewTrackLocalStaticSample(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeVP8}, "v", "s")
	for _, tr := range []*webrtc.TrackLocalStaticSample{audio, video} {
		if _, err := c.pub.AddTransceiverFromTrack(tr, webrtc.RTPTransceiverInit{Direction: webrtc.RTPTransceiverDirectionSendonly}); err != nil {
			c.t.Fatal(err)
		}
	}
	offer, err := c.pub.CreateOffer(nil)
	if err != nil {
		c.t.Fatal(err)
	}
	if err := c.pub.SetLocalDescription(offer); err != nil {
		c.t.Fatal(err)
	}
	answer, err := c.p.Publish(offer.SDP, map[string]string{"0": SourceMicrophone, "1": SourceCamera})
	if err != nil {
		c.t.Fatal(err)
	}
	if err := c.pub.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeAnswer, SDP: answer}); err != nil {
		c.t.Fatal(err)
	}
	c.flush(PCPublisher)
	marker := []byte("MARKid-" + string(c.name))
	go func() {
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			case <-tick.C:
			}
			frame := make([]byte, 0, 64)
			// VP8 frame header: P bit 0 marks a key frame (every 10th).
			if i%10 == 0 {
				frame = append(frame, 0x10, 0x02, 0x00, 0x9d, 0x01, 0x2a)
			} else {
				frame = append(frame, 0x11, 0x02, 0x00)
			}
			frame = append(frame, marker...)
			frame = binary.BigEndian.AppendUint32(frame, uint32(i))
			frame = append(frame, make([]byte, c.pad)...)
			video.WriteSample(media.Sample{Data: frame, Duration: 20 * time.Millisecond})
			audio.WriteSample(media.Sample{Data: append([]byte{0xfc}, marker...), Duration: 20 * time.Millisecond})
		}
	}()
}

func TestThreeParticipantsForward(t *testing.T) {
	leaktest.Check(t)
	s, err := New(Config{ListenIP: "127.0.0.1", IncludeLoopback: true})
	if err != nil {
		t.Fatal(err)
	}
	stop := make(chan struct{})
	clients := []*testClient{joinClient(t, s, "room1", 'a'), joinClient(t, s, "room1", 'b')}
	for _, c := range clients {
		c.publish(stop)
	}
	// A third joins late.
	c3 := joinClient(t, s, "room1", 'c')
	c3.publish(stop)
	clients = append(clients, c3)

	for _, c := range clients {
		for _, o := range clients {
			if o == c {
				continue
			}
			for _, kind := range []string{"audio", "video"} {
				c, o, kind := c, o, kind
				poll.Until(t, 15*time.Second, fmt.Sprintf("%c to receive %s of %c", c.name, kind, o.name), func() bool {
					return c.count(o.p.ID(), kind) > 20
				})
			}
		}
	}
	if got := s.ParticipantCount(); got != 3 {
		t.Fatalf("ParticipantCount = %d, want 3", got)
	}

	// b leaves: a and c keep receiving each other, and hear that b left.
	clients[1].close()
	a, c := clients[0], clients[2]
	base := a.count(c.p.ID(), "video")
	poll.Until(t, 10*time.Second, "a to keep receiving c", func() bool { return a.count(c.p.ID(), "video") > base+20 })
	poll.Until(t, 5*time.Second, "a to hear b left", func() bool {
		a.mu.Lock()
		defer a.mu.Unlock()
		for _, e := range a.events {
			if l, ok := e.(*ParticipantLeft); ok && l.ID == "id-b" {
				return true
			}
		}
		return false
	})
	for _, c := range clients {
		if n := c.bad.Load(); n != 0 {
			t.Errorf("client %c received %d packets with a foreign payload", c.name, n)
		}
	}
	close(stop)
	for _, c := range clients {
		c.close()
	}
	if n := s.RoomCount(); n != 0 {
		t.Errorf("RoomCount after everyone left = %d, want 0", n)
	}
	s.Close()
}

// TestRoomEvents: observers hear a room open, its members join and leave
// with their connected time (by Config.Now) and the room's payer, and the
// room close; a refused join is heard of not at all.
func TestRoomEvents(t *testing.T) {
	var mu sync.Mutex
	var events []string
	var now time.Time
	obs := RoomObserverFunc(func(e RoomEvent) {
		mu.Lock()
		defer mu.Unlock()
		switch e := e.(type) {
		case RoomOpened:
			events = append(events, "open "+e.Room+" "+e.Terms.Payer)
		case MemberJoined:
			events = append(events, "join "+e.ID)
		case MemberLeft:
			events = append(events, fmt.Sprintf("leave %s %v %s", e.ID, e.Connected, e.Payer))
		case RoomClosed:
			events = append(events, "close "+e.Room)
		}
	})
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	s, err := New(Config{ListenIP: "127.0.0.1", Observers: []RoomObserver{obs}, Now: clock})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	l := &testClient{t: t}
	a, _ := s.Join("r", JoinOptions{ID: "a", Listener: l, Terms: RoomTerms{Payer: "cus"}})
	b, _ := s.Join("r", JoinOptions{ID: "b", Listener: l})
	if _, err := s.Join("q", JoinOptions{ID: "c", E2EE: true, Listener: l, Terms: RoomTerms{MaxParticipants: -1}}); err == nil {
		t.Fatal("join with a negative cap succeeded")
	}
	mu.Lock()
	now = now.Add(time.Minute)
	mu.Unlock()
	a.Close()
	b.Close()
	mu.Lock()
	defer mu.Unlock()
	want := []string{"open r cus", "join a", "join b", "leave a 1m0s cus", "leave b 1m0s cus", "close r"}
	if !slices.Equal(events, want) {
		t.Fatalf("observer heard %q, want %q", events, want)
	}
}

// TestCloseRoom: a room ended by CloseRoom (moved to another node) tells
// each participant why as its last event before Done, and its code opens a
// new room at once.
func TestCloseRoom(t *testing.T) {
	s := newTestSFU(t)
	clients := []*testClient{{t: t}, {t: t}}
	for i, c := range clients {
		p, err := s.Join("r", JoinOptions{ID: string(rune('a' + i)), Listener: c})
		if err != nil {
			t.Fatal(err)
		}
		c.p = p
		p.Start()
	}
	why := Closed{MovedTo: "wss://node2.example.com/ws"}
	if n := s.CloseRoom("r", why); n != 2 {
		t.Fatalf("CloseRoom removed %d participants, want 2", n)
	}
	for _, c := range clients {
		select {
		case <-c.p.Done():
		case <-time.After(5 * time.Second):
			t.Fatal("participant not done after CloseRoom")
		}
		c.mu.Lock()
		last, _ := c.events[len(c.events)-1].(*Closed)
		c.mu.Unlock()
		if last == nil || *last != why {
			t.Errorf("last event %#v, want %#v", last, why)
		}
	}
	if _, err := s.Join("r", JoinOptions{ID: "a", Listener: &testClient{t: t}}); err != nil {
		t.Fatalf("join after CloseRoom: %v", err)
	}
	if n := s.CloseRoom("nowhere", why); n != 0 {
		t.Errorf("CloseRoom of no room removed %d", n)
	}
}

func TestJoinRules(t *testing.T) {
	s := newTestSFU(t)
	l := &testClient{t: t}
	if _, err := s.Join("r", JoinOptions{ID: "x", E2EE: true, Listener: l, Terms: RoomTerms{MaxParticipants: 1}}); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		opts JoinOptions
		want error
	}{
		{"mixed encryption", JoinOptions{ID: "y", E2EE: false, Listener: l}, ErrE2EEMismatch},
		{"full", JoinOptions{ID: "y", E2EE: true, Listener: l}, ErrRoomFull},
		{"no listener", JoinOptions{ID: "y", E2EE: true}, ErrBadConfig},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := s.Join("r", tt.opts); err == nil || !errors.Is(err, tt.want) {
				t.Fatalf("Join = %v, want %v", err, tt.want)
			}
		})
	}
}
