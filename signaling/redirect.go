package signaling

import (
	"errors"
	"net/url"
	"path"

	"github.com/gorilla/websocket"
)

// CodeUnavailable: the room cannot be placed right now (multi-node mode
// without Redis, or no node takes new rooms). Fatal; the message says what
// to do, and a later retry may succeed.
const CodeUnavailable = "unavailable"

// RedirectError is what a JoinCheck (or a Conference) returns when another
// node hosts the room. The session answers with a redirect message naming URL and
// closes, instead of an error: the client reconnects there with the same
// token, which every node of the cluster accepts.
type RedirectError struct {
	URL string // the hosting node's signaling URL (ws:// or wss://…/ws)
}

func (e *RedirectError) Error() string { return "signaling: the room is hosted at " + e.URL }

// UnavailableError is what a JoinCheck (or a Conference) returns when the
// room cannot be placed now. Message goes to the client as it is, so it must say
// what to do next and carry no internal detail.
type UnavailableError struct {
	Message string
	Err     error // the cause, for logs and errors.Is
}

func (e *UnavailableError) Error() string {
	if e.Err == nil {
		return "signaling: unavailable: " + e.Message
	}
	return "signaling: unavailable: " + e.Message + ": " + e.Err.Error()
}

func (e *UnavailableError) Unwrap() error { return e.Err }

// SignalingURL turns a node's public HTTP(S) URL into its WebSocket
// signaling URL: http→ws, https→wss, path + "/ws".
func SignalingURL(nodeURL string) (string, error) {
	u, err := url.Parse(nodeURL)
	if err != nil || u.Host == "" {
		return "", errors.New("signaling: node URL must be an absolute http(s) URL")
	}
	switch u.Scheme {
	case "http", "ws":
		u.Scheme = "ws"
	case "https", "wss":
		u.Scheme = "wss"
	default:
		return "", errors.New("signaling: node URL must be an absolute http(s) URL")
	}
	u.Path = path.Join("/", u.Path, "ws")
	u.RawQuery, u.Fragment, u.User = "", "", nil
	return u.String(), nil
}

// redirect queues the redirect message and closes once it is written.
// CloseNormalClosure: the server did nothing wrong and neither did the
// client; the message says where to go.
func (s *session) redirect(wsURL string) {
	s.send(&Redirect{Type: TypeRedirect, URL: wsURL})
	s.finish(websocket.CloseNormalClosure, TypeRedirect)
}

// joinRedirect answers a join refused with RedirectError or UnavailableError;
// it reports whether err was one of them.
func (s *session) joinRedirect(err error) bool {
	var re *RedirectError
	if errors.As(err, &re) {
		s.redirect(re.URL)
		return true
	}
	var ue *UnavailableError
	if errors.As(err, &ue) {
		s.log.Warn("join refused: room cannot be placed", "err", err)
		s.send(&Error{Type: TypeError, Code: CodeUnavailable, Message: ue.Message, Fatal: true})
		s.finish(websocket.CloseTryAgainLater, CodeUnavailable)
		return true
	}
	return false
}
