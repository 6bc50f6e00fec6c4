package signaling

import "fmt"

// Each client message checks its own values after decoding, so handlers
// only see messages that make sense.

func (m *Join) validate() error {
	switch {
	case m.Version != Version:
		return fmt.Errorf("%w: protocol version %d, this server speaks %d", ErrBadMessage, m.Version, Version)
	case m.Token == "":
		return fmt.Errorf("%w: join needs a token (POST /api/token)", ErrBadMessage)
	case len(m.Token) > maxTokenLen:
		return fmt.Errorf("%w: token longer than %d bytes", ErrTooLarge, maxTokenLen)
	case len(m.Profile) > MaxOpaqueSize:
		return fmt.Errorf("%w: profile longer than %d bytes", ErrTooLarge, MaxOpaqueSize)
	case len(m.RejoinTicket) > maxTokenLen:
		return fmt.Errorf("%w: rejoin ticket longer than %d bytes", ErrTooLarge, maxTokenLen)
	}
	return validID("rejoinId", m.RejoinID, false)
}

func (m *Offer) validate() error {
	if m.PC != PCPub {
		return fmt.Errorf("%w: a client offers only on pc \"pub\"", ErrBadMessage)
	}
	if m.SDP == "" {
		return fmt.Errorf("%w: offer without sdp", ErrBadMessage)
	}
	if len(m.Tracks) > maxTracks {
		return fmt.Errorf("%w: more than %d tracks", ErrBadMessage, maxTracks)
	}
	seen := make(map[string]bool, len(m.Tracks))
	for i, t := range m.Tracks {
		if t.Mid == "" || len(t.Mid) > maxMidLen || seen[t.Mid] {
			return fmt.Errorf("%w: tracks[%d]: mid empty, too long or repeated", ErrBadMessage, i)
		}
		seen[t.Mid] = true
		if !validSource(t.Source) {
			return fmt.Errorf("%w: tracks[%d]: source must be microphone, camera or screen", ErrBadMessage, i)
		}
	}
	return nil
}

func validSource(s string) bool {
	return s == "microphone" || s == "camera" || s == "screen"
}

func (m *Answer) validate() error {
	if m.PC != PCSub {
		return fmt.Errorf("%w: a client answers only on pc \"sub\"", ErrBadMessage)
	}
	if m.SDP == "" {
		return fmt.Errorf("%w: answer without sdp", ErrBadMessage)
	}
	return nil
}

func (m *Candidate) validate() error {
	if m.PC != PCPub && m.PC != PCSub {
		return fmt.Errorf("%w: pc must be \"pub\" or \"sub\"", ErrBadMessage)
	}
	if m.Candidate != nil && len(m.Candidate.Candidate) > maxCandidateLen {
		return fmt.Errorf("%w: candidate longer than %d bytes", ErrBadMessage, maxCandidateLen)
	}
	return nil
}

func (m *Mute) validate() error { return nil }

func (m *Profile) validate() error {
	if len(m.Profile) > MaxOpaqueSize {
		return fmt.Errorf("%w: profile longer than %d bytes", ErrTooLarge, MaxOpaqueSize)
	}
	return nil
}

func (m *Chat) validate() error {
	switch {
	case m.Data == "":
		return fmt.Errorf("%w: chat without data", ErrBadMessage)
	case len(m.Data) > MaxOpaqueSize:
		return fmt.Errorf("%w: chat data longer than %d bytes", ErrTooLarge, MaxOpaqueSize)
	}
	return nil
}

func (m *Layer) validate() error {
	switch {
	case m.Track == "" || len(m.Track) > maxTrackIDLen:
		return fmt.Errorf("%w: layer needs a track id", ErrBadMessage)
	case m.Width < 0 || m.Height < 0 || m.Width > maxDimension || m.Height > maxDimension:
		return fmt.Errorf("%w: width and height must be 0..%d", ErrBadMessage, maxDimension)
	}
	return nil
}

func (m *Encodings) validate() error {
	switch {
	case m.Mid == "" || len(m.Mid) > maxMidLen:
		return fmt.Errorf("%w: encodings need a mid", ErrBadMessage)
	case len(m.Layers) == 0 || len(m.Layers) > maxEncodings:
		return fmt.Errorf("%w: encodings need 1 to %d layers", ErrBadMessage, maxEncodings)
	}
	for i, l := range m.Layers {
		switch {
		case len(l.RID) > maxRIDLen:
			return fmt.Errorf("%w: layers[%d]: rid longer than %d bytes", ErrBadMessage, i, maxRIDLen)
		case l.Width < 0 || l.Height < 0 || l.Width > maxDimension || l.Height > maxDimension:
			return fmt.Errorf("%w: layers[%d]: width and height must be 0..%d", ErrBadMessage, i, maxDimension)
		case l.MaxBitrate < 0 || l.MaxBitrate > maxBitrate:
			return fmt.Errorf("%w: layers[%d]: maxBitrate must be 0..%d", ErrBadMessage, i, maxBitrate)
		}
	}
	return nil
}

func (m *Leave) validate() error      { return nil }
func (m *RestartICE) validate() error { return nil }
func (m *Ping) validate() error       { return nil }
func (m *Pong) validate() error       { return nil }
