package sfu

import (
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/rtcp"
	"github.com/pion/sdp/v3"
	"github.com/pion/webrtc/v4"
)

// JoinOptions describes a participant joining a room.
type JoinOptions struct {
	ID       string    // unique in the room; random, never a name
	E2EE     bool      // must match the room's, fixed by its first join
	Terms    RoomTerms // the room's when this join opens it; ignored otherwise
	Meta     Meta      // shown to the others
	Listener Listener
	// Requested is when the join was asked for; it comes back in
	// MemberJoined for join latency. Zero if unknown.
	Requested time.Time
}

// maxAnnouncedTracks bounds the tracks one participant may announce
// encodings for.
const maxAnnouncedTracks = 16

// eventQueueLen bounds what waits for a slow Listener; past it the
// participant is dropped rather than slowing the room.
const eventQueueLen = 1024

// Participant is one person in a room, with a publisher and a subscriber
// peer connection.
type Participant struct {
	id       string
	room     *Room
	log      *slog.Logger
	listener Listener
	peers    []PeerInfo

	joined    time.Time // by Config.Now, for MemberLeft; rooms with a payer only
	events    chan delivery
	startOnce sync.Once
	started   bool // deliver runs; written in startOnce
	closeOnce sync.Once
	done      chan struct{} // closed when leaving starts
	gone      chan struct{} // Done: closed once the Listener has heard the last
	why       Closed        // why the SFU closed it; zero when the caller did

	metaMu sync.Mutex
	meta   Meta

	pub     *webrtc.PeerConnection
	pubMu   sync.Mutex // serialises publisher negotiation
	sources map[string]string
	encs    map[string][]Encoding // announced layers, by mid
	ups     map[string]*UpTrack   // by mid

	arrivals  *arrivalFeedback // transport-wide feedback to the publisher
	limits    trackLimits
	offered   atomic.Int32 // sending sections of the last accepted offer
	connected atomic.Bool  // a connection has connected once
	deadline  sync.Once    // armDeadline
	// deadlineTimer is armDeadline's timer, stopped when the participant
	// closes: a pending timer would keep the whole participant (its
	// connections and buffers) reachable for MediaTimeout after it left.
	deadlineTimer atomic.Pointer[time.Timer]
	media         mediaLinks // the SFU's, for the tracks

	sub      *webrtc.PeerConnection
	subMu    sync.Mutex // serialises subscriber negotiation
	awaiting bool       // an offer waits for its answer
	// restartICE asks the next offer for new ICE credentials (RestartICE).
	restartICE     bool
	lastICERestart time.Time
	pending        bool // tracks changed while awaiting
	downs          map[*UpTrack]*DownTrack
	egress         *egress  // the subscriber connection's fast path
	live           liveness // of the subscriber side (liveness.go)
	// tcc is the send-side estimate of the subscriber connection
	// (transportcc.go); tickDowns alone applies it.
	tcc *transportCC
	// subCands are the client's candidates that arrived while an offer
	// waited for its answer: after an ICE restart they carry credentials
	// the connection learns only from the answer, and Pion drops them.
	subCands []webrtc.ICECandidateInit
	subGate  candidateGate // the server's candidates, behind their offer
}

// trackLimits are the SFU's caps on published tracks and the counter of
// offers they refused.
type trackLimits struct {
	perParticipant, perRoom int
	refused                 *atomic.Uint64

	mediaTimeout  time.Duration
	mediaTimeouts *atomic.Uint64
}

// mediaLinks are what the SFU lends a participant's tracks: the fan-out,
// the send batch and the totals of ended tracks.
type mediaLinks struct {
	fanout fanout
	batch  interface {
		Begin()
		End()
	}
	retireUp   func(*UpTrack)
	retireDown func(*DownTrack)
	// arrivals is where the media socket's reader times publishers'
	// packets (*arrivalTable); nil in tests without a socket.
	arrivals interface {
		expect(ufrag, pwd string, f *arrivalFeedback)
		forget(f *arrivalFeedback)
	}
}

// newParticipant builds a participant's connections; Room.join puts it in
// a room.
func newParticipant(s *SFU, opts JoinOptions) (*Participant, error) {
	p := &Participant{
		id:    opts.ID,
		media: mediaLinks{fanout: s.fanout, batch: s.batch, retireUp: s.retireUp, retireDown: s.retireDown, arrivals: s.arrivals},
		log:   s.log.With("room", roomRef{}),
		limits: trackLimits{perParticipant: s.cfg.MaxTracksPerParticipant, perRoom: s.cfg.MaxTracksPerRoom, refused: &s.trackRefusals,
			mediaTimeout: s.cfg.MediaTimeout, mediaTimeouts: &s.mediaTimeouts},
		listener: opts.Listener,
		events:   make(chan delivery, eventQueueLen),
		done:     make(chan struct{}),
		gone:     make(chan struct{}),
		meta:     opts.Meta,
		sources:  make(map[string]string),
		encs:     make(map[string][]Encoding),
		ups:      make(map[string]*UpTrack),
		downs:    make(map[*UpTrack]*DownTrack),
	}
	p.live.count = s.countLiveness
	var err error
	if p.pub, err = s.pubAPI.NewPeerConnection(webrtc.Configuration{}); err != nil {
		return nil, fmt.Errorf("sfu: publisher connection: %w", err)
	}
	p.egress = &egress{batches: s.batches, mux: s.tcpMux}
	p.tcc = newTransportCC(time.Now())
	subAPI, err := newAPI(p.egress.settings(s.subSE), false)
	if err != nil {
		p.pub.Close()
		return nil, err
	}
	if p.sub, err = subAPI.NewPeerConnection(webrtc.Configuration{}); err != nil {
		p.pub.Close()
		return nil, fmt.Errorf("sfu: subscriber connection: %w", err)
	}
	p.egress.watch(p.sub)
	p.arrivals = newArrivalFeedback(rand.Uint32(), func(pkts []rtcp.Packet) {
		if err := p.pub.WriteRTCP(pkts); err != nil {
			p.log.Debug("send transport feedback", "err", err)
		}
	})
	p.watch(p.pub, PCPublisher)
	p.watch(p.sub, PCSubscriber)
	p.pub.OnTrack(p.onTrack)
	return p, nil
}

// discard closes the connections of a participant whose join was refused.
func (p *Participant) discard() {
	_ = p.pub.Close()
	_ = p.sub.Close()
}

// watch trickles local candidates and drops the participant when a
// connection fails for good.
func (p *Participant) watch(pc *webrtc.PeerConnection, kind PCKind) {
	pc.OnICECandidate(func(c *webrtc.ICECandidate) {
		var init *webrtc.ICECandidateInit
		if c != nil {
			ci := c.ToJSON()
			init = &ci
		}
		if kind == PCSubscriber {
			p.subGate.pass(&Candidate{PC: kind, Init: init}, p.signal)
			return
		}
		p.signal(&Candidate{PC: kind, Init: init})
	})
	pc.OnConnectionStateChange(func(s webrtc.PeerConnectionState) {
		p.log.Debug("connection state", "pc", kind, "state", s)
		if s == webrtc.PeerConnectionStateConnected {
			p.connected.Store(true)
		}
		if s == webrtc.PeerConnectionStateFailed {
			go p.closeWithReason("media connection failed")
		}
	})
}

// armDeadline starts the join deadline at the first negotiation: a
// participant none of whose connections has connected MediaTimeout later
// is removed, so one that never completes ICE cannot hold its place, its
// connections and its goroutines for ever. Nothing is armed before a
// negotiation: a lone participant in an empty room that sends nothing has
// nothing to connect yet.
func (p *Participant) armDeadline() {
	if p.limits.mediaTimeout <= 0 {
		return
	}
	p.deadline.Do(func() {
		t := time.AfterFunc(p.limits.mediaTimeout, func() {
			if p.connected.Load() || p.closed() {
				return
			}
			p.limits.mediaTimeouts.Add(1)
			p.closeWithReason(fmt.Sprintf("media did not connect within %v; check the network and rejoin", p.limits.mediaTimeout))
		})
		p.deadlineTimer.Store(t)
		if p.closed() { // closeWith may have looked before the Store
			t.Stop()
		}
	})
}

// ID returns the participant's id.
func (p *Participant) ID() string { return p.id }

// Peers returns the other participants as they were when this one joined.
func (p *Participant) Peers() []PeerInfo { return p.peers }

// Done is closed when the participant has left, after its Listener got
// the Closed event if the SFU removed it.
func (p *Participant) Done() <-chan struct{} { return p.gone }

// Start begins delivering Listener calls, including those queued since Join.
func (p *Participant) Start() {
	p.startOnce.Do(func() {
		p.started = true
		go p.deliver()
	})
}

func (p *Participant) deliver() {
	defer close(p.gone)
	for {
		select {
		case m := <-p.events:
			m.deliverTo(p.listener)
		case <-p.done:
			if p.why != (Closed{}) {
				why := p.why
				p.listener.Event(&why)
			}
			return
		}
	}
}

// enqueue never blocks: a participant whose Listener cannot keep up is
// dropped so that the room goes on.
func (p *Participant) enqueue(m delivery) {
	select {
	case <-p.done:
	case p.events <- m:
	default:
		go p.closeWithReason("too slow to receive updates")
	}
}

func (p *Participant) signal(m Signal) { p.enqueue(m) }
func (p *Participant) event(m Event)   { p.enqueue(m) }

func (p *Participant) getMeta() Meta {
	p.metaMu.Lock()
	defer p.metaMu.Unlock()
	return p.meta
}

// info describes p; the caller holds p.room.mu.
func (p *Participant) info() PeerInfo {
	return PeerInfo{ID: p.id, Meta: p.getMeta(), Tracks: p.room.tracksOf(p)}
}

// SetMeta replaces the participant's opaque metadata and tells the others.
func (p *Participant) SetMeta(meta Meta) {
	p.metaMu.Lock()
	p.meta = meta
	p.metaMu.Unlock()
	p.room.mu.Lock()
	info := p.info()
	p.room.mu.Unlock()
	p.room.broadcast(p, &MetaChanged{Peer: info})
}

// Relay hands data (a sealed chat message) to every other participant.
func (p *Participant) Relay(data string) {
	p.room.broadcast(p, &Relayed{From: p.id, Data: data})
}

// checkTracks refuses an offer that would make p publish n tracks when
// that is more than its limit or would take the room over its own: every
// track becomes a media section in every other participant's offer, and
// an offer too large for a subscriber to answer would stall them all.
func (p *Participant) checkTracks(n int) error {
	if n > p.limits.perParticipant {
		p.limits.refused.Add(1)
		return fmt.Errorf("%w: %d tracks, limit %d per participant", ErrTooManyTracks, n, p.limits.perParticipant)
	}
	// Counted from what each participant offered to send, not from the
	// tracks that arrived: a client that offers and never sends would
	// otherwise not count.
	// The count is taken and p's share reserved under the room's lock,
	// so two offers at once cannot both take the last places.
	p.room.mu.Lock()
	defer p.room.mu.Unlock()
	others := 0
	for _, o := range p.room.participants {
		if o != p {
			others += int(o.offered.Load())
		}
	}
	if others+n > p.limits.perRoom {
		p.limits.refused.Add(1)
		return fmt.Errorf("%w: the room holds %d tracks, limit %d", ErrTooManyTracks, others, p.limits.perRoom)
	}
	p.offered.Store(int32(n))
	return nil
}

// Publish applies the client's offer on the publisher connection and
// returns the answer. sources maps each sending mid to its source; a
// previously published mid missing from it stops publishing.
func (p *Participant) Publish(offerSDP string, sources map[string]string) (string, error) {
	p.pubMu.Lock()
	defer p.pubMu.Unlock()
	if p.closed() {
		return "", ErrParticipantGone
	}
	d, err := parseChecked(offerSDP)
	if err != nil {
		return "", err
	}
	sending := sendingSections(d)
	if err := p.checkTracks(sending); err != nil {
		return "", err
	}
	p.setSources(sources)
	offer := webrtc.SessionDescription{Type: webrtc.SDPTypeOffer, SDP: offerSDP}
	if err := p.pub.SetRemoteDescription(offer); err != nil {
		return "", fmt.Errorf("%w: %v", ErrBadSDP, err)
	}
	answer, err := p.pub.CreateAnswer(nil)
	if err != nil {
		return "", fmt.Errorf("%w: %v", ErrBadSDP, err)
	}
	if err := p.pub.SetLocalDescription(answer); err != nil {
		return "", fmt.Errorf("%w: %v", ErrBadSDP, err)
	}
	local := p.pub.LocalDescription().SDP
	p.expectArrivals(local)
	for mid, t := range p.stopped(sources) {
		delete(p.ups, mid)
		p.room.unpublish(t)
	}
	p.armDeadline()
	return local, nil
}

func (p *Participant) setSources(sources map[string]string) {
	p.room.mu.Lock()
	defer p.room.mu.Unlock()
	clear(p.sources)
	for mid, s := range sources {
		p.sources[mid] = s
	}
}

// stopped returns the published tracks whose mid is no longer sent.
func (p *Participant) stopped(sources map[string]string) map[string]*UpTrack {
	p.room.mu.Lock()
	defer p.room.mu.Unlock()
	out := make(map[string]*UpTrack)
	for mid, t := range p.ups {
		if _, ok := sources[mid]; !ok {
			out[mid] = t
		}
	}
	return out
}

// onTrack runs when a publisher's stream (or one simulcast layer of it)
// arrives.
func (p *Participant) onTrack(track *webrtc.TrackRemote, recv *webrtc.RTPReceiver) {
	mid := ""
	for _, tr := range p.pub.GetTransceivers() {
		if tr.Receiver() == recv {
			mid = tr.Mid()
			break
		}
	}
	p.room.mu.Lock()
	source, ok := p.sources[mid]
	if !ok {
		source = defaultSource(track.Kind())
	}
	up := p.ups[mid]
	created := up == nil
	if created {
		up = newUpTrack(p.upLinks(), p.id, mid, source, track, recv, p.encs[mid])
		p.ups[mid] = up
	}
	p.room.mu.Unlock()
	up.addLayer(track, recv)
	if created {
		// Announce first, so clients know the track before the offer that
		// carries it.
		p.room.broadcast(p, &TrackPublished{Track: up.info})
		p.room.publish(up)
	}
}

// upLinks are what the tracks p publishes work with.
func (p *Participant) upLinks() upLinks {
	return upLinks{
		fanout: p.media.fanout, toPublisher: p.pub.WriteRTCP, arrivals: p.arrivals,
		tell: p.event, ended: p.trackEnded, retire: p.media.retireUp, log: p.log,
	}
}

func defaultSource(k webrtc.RTPCodecType) string {
	if k == webrtc.RTPCodecTypeAudio {
		return SourceMicrophone
	}
	return SourceCamera
}

// expectArrivals has the media socket's reader time this publisher's
// packets from the addresses its browser checks with the credentials of
// the SFU's answer, and tells the feedback the answer's extension id.
func (p *Participant) expectArrivals(answer string) {
	ufrag, pwd, ccID, err := answerTransport(answer)
	if err != nil || ccID == 0 {
		p.log.Debug("no transport-wide feedback for this answer", "err", err)
		return
	}
	p.arrivals.extID.Store(uint32(ccID))
	t := p.media.arrivals
	if t == nil {
		return // the track readers time the packets
	}
	t.expect(ufrag, pwd, p.arrivals)
	if p.closed() {
		t.forget(p.arrivals) // closed meanwhile: its forget may have run first
	}
}

// answerTransport returns the ICE credentials of the SDP the SFU
// answered with and the id of its transport-wide sequence number
// extension (0 when not negotiated).
func answerTransport(answer string) (ufrag, pwd string, ccID uint8, err error) {
	var d sdp.SessionDescription
	if err := d.UnmarshalString(answer); err != nil {
		return "", "", 0, err
	}
	ufrag, _ = d.Attribute("ice-ufrag")
	pwd, _ = d.Attribute("ice-pwd")
	for _, m := range d.MediaDescriptions {
		if v, ok := m.Attribute("ice-ufrag"); ok && ufrag == "" {
			ufrag = v
		}
		if v, ok := m.Attribute("ice-pwd"); ok && pwd == "" {
			pwd = v
		}
		for _, a := range m.Attributes {
			if a.Key != sdp.AttrKeyExtMap {
				continue
			}
			var e sdp.ExtMap
			if e.Unmarshal("extmap:"+a.Value) == nil && e.URI != nil && e.URI.String() == sdp.TransportCCURI && e.Value > 0 && e.Value < 256 {
				ccID = uint8(e.Value)
			}
		}
	}
	if ufrag == "" || pwd == "" {
		return "", "", 0, fmt.Errorf("%w: answer without ICE credentials", ErrBadSDP)
	}
	return ufrag, pwd, ccID, nil
}

// trackEnded is called by an UpTrack whose every layer has stopped.
func (p *Participant) trackEnded(t *UpTrack) {
	p.room.mu.Lock()
	if p.ups[t.mid] == t {
		delete(p.ups, t.mid)
	}
	p.room.mu.Unlock()
	p.room.unpublish(t)
}

// subscribe adds a DownTrack of t to the subscriber connection.
func (p *Participant) subscribe(t *UpTrack) {
	p.subMu.Lock()
	if p.closed() || p.downs[t] != nil {
		p.subMu.Unlock()
		return
	}
	d := newDownTrack(t, downLinks{batch: p.media.batch, keyframes: t, egress: p.egress, live: &p.live, tcc: p.tcc, log: p.log})
	sender, err := p.sub.AddTrack(d)
	if err != nil {
		p.subMu.Unlock()
		p.log.Warn("cannot add track to subscriber", "err", err)
		return
	}
	d.sender = sender
	p.downs[t] = d
	p.subMu.Unlock()
	if !t.addDown(d) {
		// Unpublished meanwhile: its unsubscribe may have come first.
		p.subMu.Lock()
		if p.downs[t] == d {
			delete(p.downs, t)
		}
		p.subMu.Unlock()
		if err := p.sub.RemoveTrack(sender); err != nil && !errors.Is(err, webrtc.ErrConnectionClosed) {
			p.log.Debug("remove track", "err", err)
		}
		return
	}
	go d.readRTCP()
	p.negotiate()
}

// unsubscribe removes t's DownTrack and tells the client.
func (p *Participant) unsubscribe(t *UpTrack) {
	p.subMu.Lock()
	d := p.downs[t]
	delete(p.downs, t)
	p.subMu.Unlock()
	if d == nil {
		return
	}
	t.removeDown(d)
	p.media.retireDown(d)
	if !p.closed() {
		if err := p.sub.RemoveTrack(d.sender); err != nil && !errors.Is(err, webrtc.ErrConnectionClosed) {
			p.log.Debug("remove track", "err", err)
		}
		p.event(&TrackUnpublished{Track: t.info})
		p.negotiate()
	}
}

// negotiate sends a new subscriber offer, or marks one pending while the
// previous offer waits for its answer.
func (p *Participant) negotiate() {
	p.subMu.Lock()
	defer p.subMu.Unlock()
	if p.closed() {
		return
	}
	if p.awaiting {
		p.pending = true
		return
	}
	var opts *webrtc.OfferOptions
	if p.restartICE {
		opts, p.restartICE = &webrtc.OfferOptions{ICERestart: true}, false
	}
	p.subGate.hold()
	defer p.subGate.release(p.signal)
	offer, err := p.sub.CreateOffer(opts)
	if err == nil {
		err = p.sub.SetLocalDescription(offer)
	}
	if err != nil {
		if p.closed() || p.sub.ConnectionState() == webrtc.PeerConnectionStateClosed {
			return // leaving: the connection closed under the offer
		}
		p.log.Warn("subscriber offer failed", "err", err)
		go p.closeWithReason("negotiation failed")
		return
	}
	p.awaiting = true
	p.signal(&Offer{SDP: offer.SDP})
	p.armDeadline()
}

// minICERestartInterval bounds how often a client can make the server
// restart ICE (each restart is an offer and new candidates).
const minICERestartInterval = 2 * time.Second

// RestartICE sends a subscriber offer with new ICE credentials, as the
// client asks when its network changed or dropped for a moment: media
// comes back on the new path within a round trip or two, without leaving
// the room. The publisher connection restarts from the client's own offer.
func (p *Participant) RestartICE() {
	p.subMu.Lock()
	now := time.Now()
	if now.Sub(p.lastICERestart) < minICERestartInterval {
		p.subMu.Unlock()
		return
	}
	p.lastICERestart = now
	p.restartICE = true
	p.subMu.Unlock()
	p.negotiate()
}

// Answer applies the client's answer to the last subscriber offer.
func (p *Participant) Answer(sdp string) error {
	p.subMu.Lock()
	if p.closed() {
		p.subMu.Unlock()
		return ErrParticipantGone
	}
	if !p.awaiting {
		p.subMu.Unlock()
		return ErrNotNegotiating
	}
	if err := checkSDP(sdp); err != nil {
		p.subMu.Unlock()
		return err
	}
	err := p.sub.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeAnswer, SDP: sdp})
	if err != nil {
		p.subMu.Unlock()
		if p.closed() {
			return ErrParticipantGone
		}
		return fmt.Errorf("%w: %v", ErrBadSDP, err)
	}
	p.awaiting = false
	cands := p.subCands
	p.subCands = nil
	again := p.pending
	p.pending = false
	p.subMu.Unlock()
	for _, c := range cands {
		if err := p.sub.AddICECandidate(c); err != nil {
			p.log.Debug("queued candidate refused", "err", err)
		}
	}
	if again {
		p.negotiate()
	}
	return nil
}

// maxQueuedCandidates bounds the client's candidates kept for an answer.
const maxQueuedCandidates = 64

// AddICECandidate adds a remote candidate to one of the connections. A
// subscriber candidate that arrives while an offer waits for its answer is
// kept until the answer: it may belong to the answer's ICE generation.
func (p *Participant) AddICECandidate(kind PCKind, c webrtc.ICECandidateInit) error {
	switch kind {
	case PCPublisher:
		p.pubMu.Lock()
		defer p.pubMu.Unlock()
		if p.pub.RemoteDescription() == nil {
			return fmt.Errorf("%w: candidate before the publisher offer", ErrBadSDP)
		}
		return p.pub.AddICECandidate(c)
	case PCSubscriber:
		p.subMu.Lock()
		if p.awaiting || p.sub.RemoteDescription() == nil {
			if len(p.subCands) < maxQueuedCandidates {
				p.subCands = append(p.subCands, c)
			}
			p.subMu.Unlock()
			return nil
		}
		p.subMu.Unlock()
		return p.sub.AddICECandidate(c)
	}
	return fmt.Errorf("%w: unknown connection %v", ErrBadSDP, kind)
}

// SetEncodings records the layers the client announces for the track it
// sends on mid (its sizes and target rates), before or after the track's
// first packet.
func (p *Participant) SetEncodings(mid string, encs []Encoding) {
	encs = append([]Encoding(nil), encs...)
	p.room.mu.Lock()
	if _, ok := p.encs[mid]; !ok && len(p.encs) >= maxAnnouncedTracks {
		p.room.mu.Unlock()
		return // a client cannot grow this map without bound
	}
	p.encs[mid] = encs
	up := p.ups[mid]
	p.room.mu.Unlock()
	if up != nil {
		up.setEncodings(encs)
	}
}

// SetLayer records how large the client renders trackID (0×0: hidden).
func (p *Participant) SetLayer(trackID string, width, height int) {
	p.subMu.Lock()
	defer p.subMu.Unlock()
	for t, d := range p.downs {
		if t.info.ID == trackID {
			d.setMaxSize(width, height)
			return
		}
	}
}

// Close removes the participant from its room. It is idempotent.
func (p *Participant) Close() { p.closeWith(Closed{}) }

func (p *Participant) closeWithReason(reason string) { p.closeWith(Closed{Reason: reason}) }

// closeWith removes the participant; a non-zero why is the last thing its
// Listener hears.
func (p *Participant) closeWith(why Closed) {
	p.closeOnce.Do(func() {
		p.why = why
		close(p.done)
		p.startOnce.Do(func() {}) // no deliveries start after this
		if !p.started {
			close(p.gone)
		}
		if t := p.deadlineTimer.Load(); t != nil {
			t.Stop()
		}
		p.room.leave(p)
		p.subMu.Lock()
		downs := p.downs
		p.downs = map[*UpTrack]*DownTrack{}
		p.subMu.Unlock()
		for t, d := range downs {
			t.removeDown(d)
			p.media.retireDown(d)
		}
		if p.media.arrivals != nil {
			p.media.arrivals.forget(p.arrivals)
		}
		if err := p.pub.Close(); err != nil {
			p.log.Debug("close publisher connection", "err", err)
		}
		if err := p.sub.Close(); err != nil {
			p.log.Debug("close subscriber connection", "err", err)
		}
		if why.Reason != "" {
			p.log.Info("participant removed", "reason", why.Reason)
		} else if why.MovedTo != "" {
			p.log.Info("participant sent to the node now hosting the room")
		}
	})
}

func (p *Participant) closed() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}
