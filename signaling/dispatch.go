package signaling

import (
	"errors"

	"github.com/monkeythorn/meet/sfu"
	"github.com/pion/webrtc/v4"
)

// route handles one decoded client message after join.
type route func(s *session, msg any) error

// on adapts a typed handler to the table; Decode guarantees the type.
func on[T any](f func(*session, *T) error) route {
	return func(s *session, msg any) error { return f(s, msg.(*T)) }
}

// routes is the dispatch table: one handler per client message type. Every
// type newInbound knows must be here (a test checks).
func routes() map[string]route {
	return map[string]route{
		TypeJoin:       on((*session).onJoinAgain),
		TypeOffer:      on((*session).onOffer),
		TypeAnswer:     on((*session).onAnswer),
		TypeCandidate:  on((*session).onCandidate),
		TypeMute:       on((*session).onMute),
		TypeProfile:    on((*session).onProfile),
		TypeChat:       on((*session).onChat),
		TypeLayer:      on((*session).onLayer),
		TypeEncodings:  on((*session).onEncodings),
		TypeRestartICE: on((*session).onRestartICE),
		TypeLeave:      on((*session).onLeave),
		TypePing:       on((*session).onPing),
		TypePong:       on((*session).onPong),
		TypeHand:       on((*session).onHand),
		TypeRemove:     on((*session).onRemove),
		TypeSetLock:    on((*session).onSetLock),
		TypeSetLobby:   on((*session).onSetLobby),
		TypeAdmit:      on((*session).onAdmit),
		TypeDeny:       on((*session).onDeny),
		TypeMakeHost:   on((*session).onMakeHost),
		TypeAskMute:    on((*session).onAskMute),
	}
}

func (s *session) onJoinAgain(*Join) error {
	return protoErr(CodeBadMessage, "already joined")
}

func (s *session) onOffer(m *Offer) error {
	if !s.grants.Publish {
		return protoErr(CodeUnauthorized, "this token may not publish")
	}
	sources := make(map[string]string, len(m.Tracks))
	for _, t := range m.Tracks {
		sources[t.Mid] = t.Source
	}
	answer, err := s.p.Publish(m.SDP, sources)
	if err != nil {
		return negotiationError("publish", err)
	}
	s.sendReleasing(0, &Answer{Type: TypeAnswer, PC: PCPub, SDP: answer})
	return nil
}

func (s *session) onAnswer(m *Answer) error {
	if err := s.p.Answer(m.SDP); err != nil {
		return negotiationError("answer", err)
	}
	return nil
}

func (s *session) onCandidate(m *Candidate) error {
	kind := sfu.PCPublisher
	if m.PC == PCSub {
		kind = sfu.PCSubscriber
	}
	// An empty candidate is how WebRTC spells "end of candidates".
	var init webrtc.ICECandidateInit
	if c := m.Candidate; c != nil {
		init = webrtc.ICECandidateInit{
			Candidate: c.Candidate, SDPMid: c.SDPMid,
			SDPMLineIndex: c.SDPMLineIndex, UsernameFragment: c.UsernameFragment,
		}
	}
	if err := s.p.AddICECandidate(kind, init); err != nil {
		return negotiationError("candidate", err)
	}
	return nil
}

// negotiationError keeps SFU error text (which may quote SDP) out of the
// reply and logs it at debug only.
func negotiationError(what string, err error) error {
	if errors.Is(err, sfu.ErrParticipantGone) || errors.Is(err, sfu.ErrClosed) {
		return fatalErr(CodeClosed, "you are no longer in the room")
	}
	msg := what + " failed"
	switch {
	case errors.Is(err, sfu.ErrBadSDP):
		msg += ": the session description was refused"
	case errors.Is(err, sfu.ErrNotNegotiating):
		msg += ": no offer is waiting for an answer"
	case errors.Is(err, sfu.ErrTooManyTracks):
		return protoErr(CodeTooManyTracks, what+" failed: too many tracks for you or for this meeting; stop sharing something first")
	}
	return protoErr(CodeNegotiation, msg)
}

func (s *session) onMute(m *Mute) error {
	s.meta.AudioMuted, s.meta.VideoMuted = m.AudioMuted, m.VideoMuted
	s.p.SetMeta(s.meta)
	return nil
}

func (s *session) onProfile(m *Profile) error {
	s.meta.Profile = m.Profile
	s.p.SetMeta(s.meta)
	return nil
}

func (s *session) onChat(m *Chat) error {
	// Each sender has its share of the room's chat: one that floods is
	// cut off here, before its messages reach anyone's queue.
	if !s.chat.Allow() {
		s.h.chatFloods.Add(1)
		return fatalErr(CodeTooManyErrors, "too many chat messages; slow down")
	}
	// From is set by the SFU on the way out, never taken from the
	// client, so nobody can speak in another's name.
	s.p.Relay(m.Data)
	return nil
}

func (s *session) onLayer(m *Layer) error {
	s.p.SetLayer(m.Track, m.Width, m.Height)
	return nil
}

func (s *session) onEncodings(m *Encodings) error {
	encs := make([]sfu.Encoding, len(m.Layers))
	for i, l := range m.Layers {
		encs[i] = sfu.Encoding{RID: l.RID, Width: l.Width, Height: l.Height, MaxBitrate: uint64(l.MaxBitrate)}
	}
	s.p.SetEncodings(m.Mid, encs)
	return nil
}

func (s *session) onRestartICE(*RestartICE) error {
	s.p.RestartICE()
	return nil
}

func (s *session) onLeave(*Leave) error { return errLeave }

func (s *session) onPing(m *Ping) error {
	s.send(&Pong{Type: TypePong, T: m.T})
	return nil
}

func (s *session) onPong(*Pong) error { return nil }
