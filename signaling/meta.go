package signaling

import "github.com/monkeythorn/meet/sfu"

// Meta is what a session stores in the SFU as its participant's Meta: the
// sealed profile and the flags others see in ParticipantInfo.
type Meta = sfu.Meta

// participantInfo turns the SFU's view of a peer into the wire form.
func participantInfo(p sfu.PeerInfo) ParticipantInfo {
	m := p.Meta
	info := ParticipantInfo{
		ID:         p.ID,
		Profile:    m.Profile,
		AudioMuted: m.AudioMuted,
		VideoMuted: m.VideoMuted,
		HandRaised: m.HandRaised,
	}
	for _, t := range p.Tracks {
		info.Tracks = append(info.Tracks, trackInfo(t))
	}
	return info
}

func trackInfo(t sfu.TrackInfo) TrackInfo {
	return TrackInfo{ID: t.ID, Participant: t.Participant, Kind: t.Kind, Source: t.Source, Simulcast: t.Simulcast}
}
