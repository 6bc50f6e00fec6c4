package signaling

import (
	"time"

	"github.com/monkeythorn/meet/auth"
	"github.com/monkeythorn/meet/sfu"
	"github.com/pion/webrtc/v4"
)

// Conference is what signaling needs from the SFU: a way in. The server
// wires the real SFU through SFUConference; tests use a fake.
type Conference interface {
	Join(room string, req JoinRequest) (Participant, error)
}

// JoinRequest is what a session asks the SFU for: the part of
// sfu.JoinOptions signaling decides, and what the checks before the join
// need to know about it (Config.Checks).
type JoinRequest struct {
	ID       string
	E2EE     bool
	Meta     Meta // stored by the SFU, shown to the others
	Listener sfu.Listener
	// Claims are the verified claims of the join token (plan, customer,
	// grants), for the checks.
	Claims *auth.Claims
	// Terms are what the room gets if this join opens it; checks fill
	// them in (the zero value means the SFU's defaults).
	Terms sfu.RoomTerms
	// Requested is when the client's join message arrived.
	Requested time.Time
}

// Participant is one session's handle in the SFU. It is larger than the five
// methods STYLE suggests because it is the whole surface of a participant
// the protocol exposes; splitting it would only move the same methods into
// several interfaces that always travel together.
type Participant interface {
	// Peers is the room as it was at Join, for the Welcome message.
	Peers() []sfu.PeerInfo
	// Start lets the SFU call the Listener; call it after sending Welcome.
	Start()
	Publish(offerSDP string, sources map[string]string) (answerSDP string, err error)
	Answer(sdp string) error
	AddICECandidate(pc sfu.PCKind, c webrtc.ICECandidateInit) error
	SetMeta(meta Meta)
	// Relay passes a sealed chat message to the others.
	Relay(data string)
	SetLayer(trackID string, width, height int)
	SetEncodings(mid string, layers []sfu.Encoding)
	// RestartICE sends a subscriber offer with new ICE credentials.
	RestartICE()
	// Close leaves the room; it is idempotent.
	Close()
	Done() <-chan struct{}
}

// Verifier checks a join token. *auth.Issuer satisfies it.
type Verifier interface {
	Verify(token string) (*auth.Claims, error)
	VerifyForRoom(token string, room auth.RoomCode) (*auth.Claims, error)
}
