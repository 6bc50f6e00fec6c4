package sfu

import (
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/pion/webrtc/v4"
)

// Room is a set of participants who receive each other's tracks. It lives
// while anyone is in it.
type Room struct {
	sfu   *SFU
	id    string
	log   roomRef
	e2ee  bool
	terms RoomTerms   // of the join that opened it
	timer *time.Timer // ends the meeting at terms.MaxDuration; nil = no limit

	done     chan struct{} // closed when the room is dropped
	stopOnce sync.Once

	mu           sync.Mutex
	participants []*Participant // in join order
	tracks       []*UpTrack
	speakers     []string // as last announced
}

// roomRef logs a room without its code: the code admits anyone to the room.
type roomRef struct{ n int }

func (r roomRef) LogValue() slog.Value { return slog.StringValue("[room]") }

func newRoom(s *SFU, id string, e2ee bool, terms RoomTerms) *Room {
	r := &Room{sfu: s, id: id, e2ee: e2ee, terms: terms, done: make(chan struct{})}
	if terms.MaxDuration > 0 {
		r.timer = time.AfterFunc(terms.MaxDuration, func() { s.endMeeting(r) })
	}
	go r.detectSpeakers()
	return r
}

func (r *Room) stop() {
	r.stopOnce.Do(func() {
		if r.timer != nil {
			r.timer.Stop()
		}
		close(r.done)
	})
}

// speakerInterval is how often the room looks for its active speakers.
const speakerInterval = 300 * time.Millisecond

// maxSpeakers is how many active speakers are announced.
const maxSpeakers = 3

// detectSpeakers announces the loudest audio tracks, from the levels the
// publishers put in their packets, whenever the list changes.
func (r *Room) detectSpeakers() {
	tick := time.NewTicker(speakerInterval)
	defer tick.Stop()
	for {
		select {
		case <-r.done:
			return
		case <-tick.C:
		}
		if ids, changed := r.updateSpeakers(time.Now().UnixNano()); changed {
			r.broadcast(nil, &Speakers{IDs: ids})
		}
	}
}

func (r *Room) updateSpeakers(now int64) ([]string, bool) {
	type scored struct {
		id    string
		score int
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	var loud []scored
	for _, t := range r.tracks {
		if t.kind != webrtc.RTPCodecTypeAudio || !t.meter.Speaking(now) {
			continue
		}
		loud = append(loud, scored{t.info.Participant, t.meter.Score(now)})
	}
	slices.SortStableFunc(loud, func(a, b scored) int { return b.score - a.score })
	ids := make([]string, 0, maxSpeakers)
	for _, s := range loud {
		if len(ids) == maxSpeakers {
			break
		}
		if !slices.Contains(ids, s.id) {
			ids = append(ids, s.id)
		}
	}
	if slices.Equal(ids, r.speakers) {
		return nil, false
	}
	r.speakers = ids
	return ids, true
}

// join registers p, built for this room, and returns the tracks already
// published, for the caller to subscribe p to once no lock is held. Called
// with sfu.mu held, so the room cannot be dropped meanwhile.
func (r *Room) join(p *Participant, opts JoinOptions) ([]*UpTrack, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if opts.E2EE != r.e2ee {
		return nil, ErrE2EEMismatch
	}
	if len(r.participants) >= r.terms.MaxParticipants {
		return nil, ErrRoomFull
	}
	for _, o := range r.participants {
		if o.id == opts.ID {
			return nil, ErrDuplicateID
		}
	}
	p.room = r
	if r.terms.Payer != "" {
		p.joined = r.sfu.cfg.Now() // only rooms someone pays for are timed
	}
	p.peers = make([]PeerInfo, 0, len(r.participants))
	for _, o := range r.participants {
		p.peers = append(p.peers, o.info())
		o.event(&ParticipantJoined{Peer: p.info()})
	}
	r.participants = append(r.participants, p)
	r.sfu.observe(MemberJoined{Room: r.id, ID: p.id, Requested: opts.Requested})
	return slices.Clone(r.tracks), nil
}

// leave removes p and everything it published.
func (r *Room) leave(p *Participant) {
	r.mu.Lock()
	for i, o := range r.participants {
		if o == p {
			r.participants = append(r.participants[:i], r.participants[i+1:]...)
			left := MemberLeft{Room: r.id, ID: p.id, Payer: r.terms.Payer}
			if left.Payer != "" {
				left.Connected = r.sfu.cfg.Now().Sub(p.joined)
			}
			r.sfu.observe(left)
			break
		}
	}
	var gone []*UpTrack
	kept := r.tracks[:0]
	for _, t := range r.tracks {
		if t.info.Participant == p.id {
			gone = append(gone, t)
		} else {
			kept = append(kept, t)
		}
	}
	r.tracks = kept
	others := append([]*Participant(nil), r.participants...)
	r.mu.Unlock()

	for _, t := range gone {
		t.close()
	}
	for _, o := range others {
		for _, t := range gone {
			o.unsubscribe(t)
		}
		o.event(&ParticipantLeft{ID: p.id})
	}
	r.sfu.roomEmpty(r)
}

// publish makes t available to everyone else in the room.
func (r *Room) publish(t *UpTrack) {
	r.mu.Lock()
	r.tracks = append(r.tracks, t)
	others := make([]*Participant, 0, len(r.participants))
	for _, o := range r.participants {
		if o.id != t.info.Participant {
			others = append(others, o)
		}
	}
	r.mu.Unlock()
	for _, o := range others {
		o.subscribe(t)
	}
}

// unpublish removes t from the room and from every subscriber.
func (r *Room) unpublish(t *UpTrack) {
	r.mu.Lock()
	found := false
	for i, o := range r.tracks {
		if o == t {
			r.tracks = append(r.tracks[:i], r.tracks[i+1:]...)
			found = true
			break
		}
	}
	others := append([]*Participant(nil), r.participants...)
	r.mu.Unlock()
	if !found {
		return
	}
	t.close()
	for _, o := range others {
		if o.id != t.info.Participant {
			o.unsubscribe(t)
		}
	}
}

// broadcast sends e to everyone but from.
func (r *Room) broadcast(from *Participant, e Event) {
	for _, o := range r.snapshot() {
		if o != from {
			o.event(e)
		}
	}
}

func (r *Room) snapshot() []*Participant {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]*Participant(nil), r.participants...)
}

func (r *Room) tracksOf(p *Participant) []TrackInfo {
	var out []TrackInfo
	for _, t := range r.tracks {
		if t.info.Participant == p.id {
			out = append(out, t.info)
		}
	}
	return out
}

func (r *Room) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.participants)
}

func (r *Room) empty() bool { return r.count() == 0 }
