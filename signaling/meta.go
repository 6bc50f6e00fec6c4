package signaling

import (
	"log/slog"

	"github.com/monkeythorn/meet/sfu"
)

// Meta is what signaling stores in the SFU as a participant's Meta: the
// sealed profile and the mute flags, the state others see in
// ParticipantInfo. It is a value, so one session's later changes never
// alter a snapshot another session already holds.
type Meta struct {
	Profile    string // sealed with the room key; opaque here
	AudioMuted bool
	VideoMuted bool
	HandRaised bool
}

// LogValue keeps the sealed profile out of logs: even encrypted, its length
// and presence say something about a person.
func (m Meta) LogValue() slog.Value {
	return slog.GroupValue(slog.Bool("audioMuted", m.AudioMuted), slog.Bool("videoMuted", m.VideoMuted), slog.Bool("handRaised", m.HandRaised))
}

// participantInfo turns the SFU's view of a peer into the wire form. A Meta
// of another type (not set by signaling) yields an empty profile.
func participantInfo(p sfu.PeerInfo) ParticipantInfo {
	m, _ := p.Meta.(Meta)
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
