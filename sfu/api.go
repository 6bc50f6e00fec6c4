package sfu

import (
	"log/slog"

	"github.com/pion/webrtc/v4"
)

// PCKind names one of a participant's two peer connections.
type PCKind int

const (
	PCUnknown    PCKind = iota
	PCPublisher         // client offers, server answers; carries what the client sends
	PCSubscriber        // server offers, client answers; carries what the client receives
)

func (k PCKind) String() string {
	switch k {
	case PCPublisher:
		return "pub"
	case PCSubscriber:
		return "sub"
	}
	return "unknown"
}

// Track sources a publisher declares per transceiver.
const (
	SourceMicrophone = "microphone"
	SourceCamera     = "camera"
	SourceScreen     = "screen"
)

// TrackInfo describes a published track. Subscribers receive it with the
// msid stream id set to the publisher's participant id.
type TrackInfo struct {
	ID          string
	Participant string
	Kind        string // "audio" or "video"
	Source      string
	Simulcast   bool
}

// Encoding is one layer a publisher announces for a track it sends: rid
// ("" when the track is not simulcast), size in pixels and target bit rate.
// The SFU chooses layers from it before they have been measured.
type Encoding struct {
	RID           string
	Width, Height int
	MaxBitrate    uint64 // bits per second; 0 = not said
}

// PeerInfo describes a participant as the others see it.
type PeerInfo struct {
	ID     string
	Meta   Meta // set by the caller with SetMeta
	Tracks []TrackInfo
}

// Meta is what the others see of a participant besides its id and tracks.
// The SFU stores and passes it on without reading it. It is a value, so
// one participant's later changes never alter a snapshot another already
// holds.
type Meta struct {
	Profile    string // sealed end to end by the client (name, avatar); opaque here
	AudioMuted bool
	VideoMuted bool
	HandRaised bool
}

// LogValue keeps the sealed profile out of logs: even encrypted, its length
// and presence say something about a person.
func (m Meta) LogValue() slog.Value {
	return slog.GroupValue(slog.Bool("audioMuted", m.AudioMuted), slog.Bool("videoMuted", m.VideoMuted), slog.Bool("handRaised", m.HandRaised))
}

// Listener receives what the SFU has to tell one participant. Calls for one
// participant come from one goroutine, in order, never before
// Participant.Start and never after the participant is closed. A slow
// Listener delays only its own participant; one that falls too far behind is
// closed.
type Listener interface {
	// Signal carries negotiation for the participant's own connections.
	Signal(s Signal)
	// Event carries news of the room.
	Event(e Event)
}

// Signal is one of *Offer and *Candidate: a closed set.
type Signal interface {
	delivery
	signal()
}

// Event is one of *ParticipantJoined, *ParticipantLeft, *MetaChanged,
// *TrackPublished, *TrackUnpublished, *Speakers, *LayersWanted, *Relayed
// and *Closed: a closed set.
type Event interface {
	delivery
	event()
}

// delivery is what waits in a participant's queue for its Listener.
type delivery interface{ deliverTo(l Listener) }

func (s *Offer) signal()     {}
func (s *Candidate) signal() {}

func (s *Offer) deliverTo(l Listener)     { l.Signal(s) }
func (s *Candidate) deliverTo(l Listener) { l.Signal(s) }

func (*ParticipantJoined) event() {}
func (*ParticipantLeft) event()   {}
func (*MetaChanged) event()       {}
func (*TrackPublished) event()    {}
func (*TrackUnpublished) event()  {}
func (*Speakers) event()          {}
func (*LayersWanted) event()      {}
func (*Relayed) event()           {}
func (*Closed) event()            {}

func (e *ParticipantJoined) deliverTo(l Listener) { l.Event(e) }
func (e *ParticipantLeft) deliverTo(l Listener)   { l.Event(e) }
func (e *MetaChanged) deliverTo(l Listener)       { l.Event(e) }
func (e *TrackPublished) deliverTo(l Listener)    { l.Event(e) }
func (e *TrackUnpublished) deliverTo(l Listener)  { l.Event(e) }
func (e *Speakers) deliverTo(l Listener)          { l.Event(e) }
func (e *LayersWanted) deliverTo(l Listener)      { l.Event(e) }
func (e *Relayed) deliverTo(l Listener)           { l.Event(e) }
func (e *Closed) deliverTo(l Listener)            { l.Event(e) }

// Offer is a server offer on the subscriber connection.
type Offer struct{ SDP string }

// Candidate is a local ICE candidate of one connection; nil Init means the
// end of candidates.
type Candidate struct {
	PC   PCKind
	Init *webrtc.ICECandidateInit
}

// ParticipantJoined announces another participant.
type ParticipantJoined struct{ Peer PeerInfo }

// ParticipantLeft announces that another participant has gone.
type ParticipantLeft struct{ ID string }

// MetaChanged carries another participant's new Meta.
type MetaChanged struct{ Peer PeerInfo }

// TrackPublished announces a track that the next subscriber offer carries.
type TrackPublished struct{ Track TrackInfo }

// TrackUnpublished announces that a track has ended.
type TrackUnpublished struct{ Track TrackInfo }

// Speakers lists the room's active speakers, loudest first.
type Speakers struct{ IDs []string }

// LayersWanted tells a publisher which simulcast layers of its track (by
// mid) any subscriber needs, by rid; the client pauses the others' encoding.
type LayersWanted struct {
	Mid  string
	RIDs []string
}

// Relayed carries what another participant relayed with Relay: a chat
// message sealed end to end, opaque here.
type Relayed struct {
	From string
	Data string
}

// Closed is the last event: the participant was removed by the SFU (media
// failed, queue overflow, SFU closing, meeting ended by CloseRoom). Reason
// is safe to show and log. MovedTo, when set, is the signaling URL of the
// node that hosts the room now: the client should go there.
type Closed struct {
	Reason  string
	MovedTo string
}
