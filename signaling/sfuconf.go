package signaling

import "github.com/monkeythorn/meet/sfu"

// SFUConference adapts the real SFU to Conference.
func SFUConference(s *sfu.SFU) Conference { return sfuConference{s} }

type sfuConference struct{ s *sfu.SFU }

func (c sfuConference) Join(room string, req JoinRequest) (Participant, error) {
	p, err := c.s.Join(room, sfu.JoinOptions{
		ID: req.ID, E2EE: req.E2EE, Meta: req.Meta, Listener: req.Listener,
		Terms: req.Terms, Requested: req.Requested,
	})
	if err != nil {
		// Return a nil interface, not a nil *sfu.Participant in one.
		return nil, err
	}
	return p, nil
}
