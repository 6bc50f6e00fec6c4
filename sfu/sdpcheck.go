package sfu

import (
	"fmt"
	"strings"

	"github.com/pion/sdp/v3"
)

// Limits on a client's session description, checked before Pion applies
// it. A real browser offer stays far below each; without them one offer
// could make the SFU set up hundreds of transceivers, or send
// connectivity checks to hundreds of addresses the client chose.
const (
	maxSDPSize       = 64 << 10 // as signaling.MaxMessageSize
	maxMediaSections = 32       // as signaling's track limit
	maxRIDs          = maxLayers
	maxSSRCs         = 4 * maxLayers // a=ssrc lines name primary and RTX streams
	maxCandidates    = 16            // per media section
	maxExtmaps       = 32            // per media section
)

// mediaSections counts the "m=" lines of raw without parsing it, so an
// offer with hundreds of sections is refused before the parser builds
// them.
func mediaSections(raw string) int {
	n := strings.Count(raw, "\nm=")
	if strings.HasPrefix(raw, "m=") {
		n++
	}
	return n
}

// sendingSections counts the media sections of an offer that send: a port
// other than 0 and a direction of sendrecv (the default) or sendonly.
func sendingSections(d *sdp.SessionDescription) int {
	n := 0
	for _, m := range d.MediaDescriptions {
		if m.MediaName.Port.Value == 0 {
			continue
		}
		send := true
		for _, a := range m.Attributes {
			if a.Key == "recvonly" || a.Key == "inactive" {
				send = false
			}
		}
		if send {
			n++
		}
	}
	return n
}

// checkSDP refuses a session description that does not parse or exceeds
// the limits above. Errors wrap ErrBadSDP and never quote the SDP.
func checkSDP(raw string) error {
	_, err := parseChecked(raw)
	return err
}

// parseChecked is checkSDP returning the parsed description.
func parseChecked(raw string) (*sdp.SessionDescription, error) {
	if len(raw) > maxSDPSize {
		return nil, fmt.Errorf("%w: %d bytes, limit %d", ErrBadSDP, len(raw), maxSDPSize)
	}
	if n := mediaSections(raw); n > maxMediaSections {
		return nil, fmt.Errorf("%w: %d media sections, limit %d", ErrBadSDP, n, maxMediaSections)
	}
	d := &sdp.SessionDescription{}
	if err := d.UnmarshalString(raw); err != nil {
		return nil, fmt.Errorf("%w: does not parse", ErrBadSDP)
	}
	return d, checkSections(d)
}

// checkSections applies the per-section limits.
func checkSections(d *sdp.SessionDescription) error {
	if len(d.MediaDescriptions) > maxMediaSections {
		return fmt.Errorf("%w: %d media sections, limit %d", ErrBadSDP, len(d.MediaDescriptions), maxMediaSections)
	}
	for i, m := range d.MediaDescriptions {
		var rids, cands, exts int
		ssrcs := map[string]bool{}
		for _, a := range m.Attributes {
			switch a.Key {
			case "rid":
				rids++
			case "candidate":
				cands++
			case "extmap":
				exts++
			case "ssrc":
				id, _, _ := strings.Cut(a.Value, " ")
				ssrcs[id] = true
			}
		}
		switch {
		case rids > maxRIDs:
			return fmt.Errorf("%w: media %d has %d rids, limit %d", ErrBadSDP, i, rids, maxRIDs)
		case len(ssrcs) > maxSSRCs:
			return fmt.Errorf("%w: media %d has %d SSRCs, limit %d", ErrBadSDP, i, len(ssrcs), maxSSRCs)
		case cands > maxCandidates:
			return fmt.Errorf("%w: media %d has %d candidates, limit %d", ErrBadSDP, i, cands, maxCandidates)
		case exts > maxExtmaps:
			return fmt.Errorf("%w: media %d has %d header extensions, limit %d", ErrBadSDP, i, exts, maxExtmaps)
		}
	}
	return nil
}
