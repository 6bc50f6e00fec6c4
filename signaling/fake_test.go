package signaling

import (
	"sync"

	"github.com/monkeythorn/meet/sfu"
	"github.com/pion/webrtc/v4"
)

// fakeConf is an in-memory Conference with the SFU's room semantics: a room
// exists while someone is in it, its E2EE flag is fixed by the first join,
// events reach the others, and nothing reaches a Listener before Start.
type fakeConf struct {
	mu    sync.Mutex
	max   int
	rooms map[string]*fakeRoom
	parts map[string]*fakePart // by id, including those who left
}

type fakeRoom struct {
	e2ee  bool
	parts []*fakePart
}

func newFakeConf(max int) *fakeConf {
	return &fakeConf{max: max, rooms: map[string]*fakeRoom{}, parts: map[string]*fakePart{}}
}

func (c *fakeConf) Join(room string, req JoinRequest) (Participant, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	r := c.rooms[room]
	if r == nil {
		r = &fakeRoom{e2ee: req.E2EE}
		c.rooms[room] = r
	}
	switch {
	case r.e2ee != req.E2EE:
		return nil, sfu.ErrE2EEMismatch
	case len(r.parts) >= c.max:
		return nil, sfu.ErrRoomFull
	}
	for _, o := range r.parts {
		if o.id == req.ID {
			return nil, sfu.ErrDuplicateID
		}
	}
	p := &fakePart{conf: c, room: room, id: req.ID, req: req, l: req.Listener, meta: req.Meta, done: make(chan struct{})}
	for _, o := range r.parts {
		p.peers = append(p.peers, o.info())
		o.deliver(func(l sfu.Listener) { l.Event(&sfu.ParticipantJoined{Peer: p.info()}) })
	}
	r.parts = append(r.parts, p)
	c.parts[p.id] = p
	return p, nil
}

func (c *fakeConf) part(id string) *fakePart {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.parts[id]
}

func (c *fakeConf) count() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for _, r := range c.rooms {
		n += len(r.parts)
	}
	return n
}

// others runs f for everyone in p's room but p. Caller holds c.mu.
func (c *fakeConf) others(p *fakePart, f func(o *fakePart)) {
	if r := c.rooms[p.room]; r != nil {
		for _, o := range r.parts {
			if o != p {
				f(o)
			}
		}
	}
}

type fakePart struct {
	conf  *fakeConf
	room  string
	id    string
	req   JoinRequest // as the checks left it
	l     sfu.Listener
	peers []sfu.PeerInfo

	mu          sync.Mutex
	meta        Meta
	started     bool
	closed      bool
	pending     []func(sfu.Listener)
	done        chan struct{}
	offering    bool
	published   []string
	sources     map[string]string
	answers     []string
	candidates  []fakeCandidate
	layers      []fakeLayer
	encodings   []fakeEncodings
	iceRestarts int
	publishErr  error
}

type fakeCandidate struct {
	pc   sfu.PCKind
	init webrtc.ICECandidateInit
}

type fakeEncodings struct {
	mid  string
	encs []sfu.Encoding
}

type fakeLayer struct {
	track string
	w, h  int
}

func (p *fakePart) info() sfu.PeerInfo {
	p.mu.Lock()
	defer p.mu.Unlock()
	return sfu.PeerInfo{ID: p.id, Meta: p.meta}
}

// deliver calls the Listener now, or at Start. Holding p.mu serialises
// calls as the real SFU does; the session's Listener never calls back.
func (p *fakePart) deliver(f func(sfu.Listener)) {
	p.mu.Lock()
	defer p.mu.Unlock()
	switch {
	case p.closed:
	case !p.started:
		p.pending = append(p.pending, f)
	default:
		f(p.l)
	}
}

func (p *fakePart) Peers() []sfu.PeerInfo { return p.peers }

func (p *fakePart) Start() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.started = true
	for _, f := range p.pending {
		f(p.l)
	}
	p.pending = nil
}

func (p *fakePart) Publish(offer string, sources map[string]string) (string, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.publishErr != nil {
		return "", p.publishErr
	}
	p.published = append(p.published, offer)
	p.sources = sources
	return "answer-for:" + offer, nil
}

func (p *fakePart) Answer(sdp string) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.offering {
		return sfu.ErrNotNegotiating
	}
	p.offering = false
	p.answers = append(p.answers, sdp)
	return nil
}

// offer sends a subscriber offer as the SFU would.
func (p *fakePart) offer(sdp string) {
	p.mu.Lock()
	p.offering = true
	p.mu.Unlock()
	p.deliver(func(l sfu.Listener) { l.Signal(&sfu.Offer{SDP: sdp}) })
}

func (p *fakePart) AddICECandidate(pc sfu.PCKind, c webrtc.ICECandidateInit) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.candidates = append(p.candidates, fakeCandidate{pc, c})
	return nil
}

func (p *fakePart) SetMeta(meta Meta) {
	p.mu.Lock()
	p.meta = meta
	p.mu.Unlock()
	c := p.conf
	c.mu.Lock()
	defer c.mu.Unlock()
	info := p.info()
	c.others(p, func(o *fakePart) { o.deliver(func(l sfu.Listener) { l.Event(&sfu.MetaChanged{Peer: info}) }) })
}

func (p *fakePart) Relay(data string) {
	c := p.conf
	c.mu.Lock()
	defer c.mu.Unlock()
	c.others(p, func(o *fakePart) {
		o.deliver(func(l sfu.Listener) { l.Event(&sfu.Relayed{From: p.id, Data: data}) })
	})
}

func (p *fakePart) SetLayer(track string, w, h int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.layers = append(p.layers, fakeLayer{track, w, h})
}

func (p *fakePart) SetEncodings(mid string, encs []sfu.Encoding) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.encodings = append(p.encodings, fakeEncodings{mid, encs})
}

func (p *fakePart) RestartICE() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.iceRestarts++
}

func (p *fakePart) Close() {
	c := p.conf
	c.mu.Lock()
	defer c.mu.Unlock()
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return
	}
	p.closed = true
	close(p.done)
	p.mu.Unlock()
	r := c.rooms[p.room]
	for i, o := range r.parts {
		if o == p {
			r.parts = append(r.parts[:i], r.parts[i+1:]...)
			break
		}
	}
	c.others(p, func(o *fakePart) { o.deliver(func(l sfu.Listener) { l.Event(&sfu.ParticipantLeft{ID: p.id}) }) })
	if len(r.parts) == 0 {
		delete(c.rooms, p.room)
	}
}

func (p *fakePart) Done() <-chan struct{} { return p.done }

// snapshot returns what the participant recorded, under its lock.
func (p *fakePart) snapshot() (published []string, sources map[string]string, answers []string, cands []fakeCandidate, layers []fakeLayer) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.published...), p.sources, append([]string(nil), p.answers...),
		append([]fakeCandidate(nil), p.candidates...), append([]fakeLayer(nil), p.layers...)
}
