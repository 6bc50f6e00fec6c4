package sfu

import "github.com/pion/webrtc/v4"

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
	Meta   any // opaque to the SFU: set by the caller with SetMeta
	Tracks []TrackInfo
}

// Listener receives what the SFU has to tell one participant. Calls for one
// participant come from one goroutine, in order, never before
// Participant.Start and never after the participant is closed. A slow
// Listener delays only its own participant; one that falls too far behind is
// closed.
type Listener interface {
	// Signal carries negotiation for the participant's own connections:
	// *Offer and *Candidate.
	Signal(s any)
	// Event carries news of the room: *ParticipantJoined, *ParticipantLeft,
	// *MetaChanged, *TrackPublished, *TrackUnpublished, *Speakers, *LayersWanted, *Relayed
	// and *Closed.
	Event(e any)
}

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

// Relayed carries a payload another participant relayed with Relay.
type Relayed struct {
	From    string
	Payload any
}

// Closed is the last event: the participant was removed by the SFU (media
// failed, queue overflow, SFU closing, meeting ended by CloseRoom). Reason
// is safe to show and log. MovedTo, when set, is the signaling URL of the
// node that hosts the room now: the client should go there.
type Closed struct {
	Reason  string
	MovedTo string
}
