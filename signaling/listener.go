package signaling

import (
	"fmt"
	"github.com/gorilla/websocket"
	"github.com/monkeythorn/meet/sfu"
)

// Signal implements sfu.Listener: negotiation for this client's own
// connections. Like Event it only queues, so the SFU never waits on a
// client.
func (s *session) Signal(sig sfu.Signal) {
	switch v := sig.(type) {
	case *sfu.Offer:
		s.sendReleasing(1, &Offer{Type: TypeOffer, PC: PCSub, SDP: v.SDP})
	case *sfu.Candidate:
		m := &Candidate{Type: TypeCandidate, PC: PCPub}
		if v.PC == sfu.PCSubscriber {
			m.PC = PCSub
		}
		if c := v.Init; c != nil {
			m.Candidate = &ICECandidate{
				Candidate: c.Candidate, SDPMid: c.SDPMid,
				SDPMLineIndex: c.SDPMLineIndex, UsernameFragment: c.UsernameFragment,
			}
		}
		s.sendCandidate(m)
	default:
		s.log.Debug("unhandled SFU signal", "type", typeName(sig))
	}
}

// maxHeldCandidates bounds the hold-back; a connection gathers a handful.
const maxHeldCandidates = 64

func candIndex(pc PC) int {
	if pc == PCSub {
		return 1
	}
	return 0
}

// sendCandidate sends m now if its description has gone out, else holds it.
func (s *session) sendCandidate(m *Candidate) {
	i := candIndex(m.PC)
	s.candMu.Lock()
	defer s.candMu.Unlock()
	if s.candReady[i] {
		s.send(m)
		return
	}
	if len(s.candHeld[i]) < maxHeldCandidates {
		s.candHeld[i] = append(s.candHeld[i], m)
	}
}

// sendReleasing queues a description and then the candidates held for it,
// so the client always gets them in an order it can apply.
func (s *session) sendReleasing(i int, desc any) {
	s.candMu.Lock()
	defer s.candMu.Unlock()
	s.send(desc)
	s.candReady[i] = true
	for _, c := range s.candHeld[i] {
		s.send(c)
	}
	s.candHeld[i] = nil
}

// Event implements sfu.Listener: news of the room.
func (s *session) Event(e sfu.Event) {
	switch v := e.(type) {
	case *sfu.ParticipantJoined:
		s.send(&ParticipantJoined{Type: TypeJoined, Participant: participantInfo(v.Peer)})
	case *sfu.ParticipantLeft:
		s.send(&ParticipantLeft{Type: TypeLeft, ID: v.ID})
	case *sfu.MetaChanged:
		s.send(&ParticipantUpdated{Type: TypeUpdated, Participant: participantInfo(v.Peer)})
	case *sfu.TrackPublished:
		s.send(&TrackPublished{Type: TypePublished, Track: trackInfo(v.Track)})
	case *sfu.TrackUnpublished:
		s.send(&TrackUnpublished{Type: TypeUnpublished, ID: v.Track.ID, Participant: v.Track.Participant})
	case *sfu.Speakers:
		ids := v.IDs
		if ids == nil {
			ids = []string{}
		}
		s.send(&Speakers{Type: TypeSpeakers, IDs: ids})
	case *sfu.LayersWanted:
		s.send(&Layers{Type: TypeLayers, Mid: v.Mid, Active: append([]string{}, v.RIDs...)})
	case *sfu.Relayed:
		s.relayed(v)
	case *sfu.Closed:
		if v.MovedTo != "" {
			s.redirect(v.MovedTo)
			return
		}
		s.send(&Error{Type: TypeError, Code: CodeClosed, Message: v.Reason, Fatal: true})
		s.finish(websocket.CloseGoingAway, CodeClosed)
	default:
		s.log.Debug("unhandled SFU event", "type", typeName(e))
	}
}

// relayed passes on a chat message; the SFU's From is authoritative.
func (s *session) relayed(r *sfu.Relayed) {
	s.sendDroppable(&Chat{Type: TypeChat, From: r.From, Data: r.Data})
}

func typeName(v any) string { return fmt.Sprintf("%T", v) }
