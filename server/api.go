package server

import (
	"errors"
	"net/http"
	"net/url"
	"path"
	"strings"
	"time"

	"github.com/monkeythorn/meet/auth"
	"github.com/monkeythorn/meet/signaling"
)

type roomsRequest struct {
	E2EE       *bool  `json:"e2ee"`
	AccessCode string `json:"accessCode"` // optional: checked, for a paid meeting
}

type roomsResponse struct {
	Code string `json:"code"`
	E2EE bool   `json:"e2ee"`
	// HostKey makes its bearer a host of the meeting (auth.Issuer.HostKey).
	// The creator's browser keeps it; it is never part of the invite link.
	HostKey string    `json:"hostKey"`
	Plan    *planInfo `json:"plan,omitempty"` // the paid plan the access code grants
}

// handleRooms makes a fresh room code. Nothing is stored: the room comes to
// exist when the first participant joins with a token for it.
func (s *Server) handleRooms(w http.ResponseWriter, r *http.Request) {
	if !onlyMethod(w, r, http.MethodPost) {
		return
	}
	var req roomsRequest
	if !readJSON(w, r, &req, false) {
		return
	}
	ent, ok := s.entitlement(w, r, req.AccessCode)
	if !ok {
		return
	}
	_, _, plan := paidTokenFields(ent)
	code, err := auth.NewRoomCode()
	if err != nil {
		s.log.Error("making room code", "err", err)
		writeError(w, http.StatusInternalServerError, codeInternal, "could not make a room code; try again")
		return
	}
	writeJSON(w, http.StatusOK, roomsResponse{Code: code.String(), E2EE: req.E2EE == nil || *req.E2EE, HostKey: s.issuer.HostKey(code), Plan: plan})
}

type tokenRequest struct {
	Room       string `json:"room"`
	E2EE       *bool  `json:"e2ee"`       // default true: encryption is on unless turned off
	AccessCode string `json:"accessCode"` // optional: a paid plan's token
	HostKey    string `json:"hostKey"`    // optional: the room's host key, for a host's token
	// HostLost: the client lost its connection to the room's node without
	// a drain (a crash, most likely), so multi-node placement checks that
	// node now (docs/scaling.md).
	HostLost bool `json:"hostLost"`
}

type tokenResponse struct {
	Token string `json:"token"`
	WS    string `json:"ws"`
	// ICEServers are the static (STUN) servers only: TURN credentials
	// come with the welcome, for participants in a call.
	ICEServers []signaling.ICEServer `json:"iceServers"`
	ExpiresAt  int64                 `json:"expiresAt"`      // unix milliseconds
	Plan       *planInfo             `json:"plan,omitempty"` // paid plan of the token
}

// handleToken issues a join token for a room. The client sends it as the
// first WebSocket message, never in a URL, so it stays out of access logs.
func (s *Server) handleToken(w http.ResponseWriter, r *http.Request) {
	if !onlyMethod(w, r, http.MethodPost) {
		return
	}
	if s.draining.Load() {
		writeError(w, http.StatusServiceUnavailable, codeDraining, "the server is shutting down; try again in a moment")
		return
	}
	var req tokenRequest
	if !readJSON(w, r, &req, true) {
		return
	}
	room, err := auth.ParseRoomCode(req.Room)
	if err != nil {
		writeError(w, http.StatusBadRequest, codeBadRoomCode, "the room code is not valid; check the link")
		return
	}
	if req.HostKey != "" && s.issuer.CheckHostKey(room, req.HostKey) != nil {
		writeError(w, http.StatusForbidden, codeBadHostKey, "this host key is not the one of this meeting; join without it, or open the host link again")
		return
	}
	ent, ok := s.entitlement(w, r, req.AccessCode)
	if !ok {
		return
	}
	planID, customer, plan := paidTokenFields(ent)
	e2ee := req.E2EE == nil || *req.E2EE
	ws, ok := s.tokenWS(w, r, signaling.RoomID(room.String(), e2ee), req.HostLost) // multi-node: the hosting node's
	if !ok {
		return
	}
	tok, claims, err := s.issuer.Issue(auth.TokenRequest{
		Room:     room,
		E2EE:     req.E2EE == nil || *req.E2EE,
		Grants:   auth.Grants{Publish: true, Subscribe: true, Host: req.HostKey != ""},
		Plan:     planID,
		Customer: customer,
	})
	if err != nil {
		s.log.Error("issuing token", "err", err)
		writeError(w, http.StatusInternalServerError, codeInternal, "could not issue a token; try again")
		return
	}
	writeJSON(w, http.StatusOK, tokenResponse{
		Token:      tok,
		WS:         ws,
		ICEServers: s.cfg.ICEServers, // TURN credentials come with the welcome, once joined
		ExpiresAt:  claims.ExpiresAt.UnixMilli(),
		Plan:       plan,
	})
}

type iceResponse struct {
	ICEServers []signaling.ICEServer `json:"iceServers"`
}

// handleICE returns fresh ICE servers (TURN credentials) for the bearer of a
// valid token who is in a call on this node, for clients that restart ICE
// late in a long call. Nobody else gets TURN credentials: a token alone is
// free for the asking.
func (s *Server) handleICE(w http.ResponseWriter, r *http.Request) {
	if !onlyMethod(w, r, http.MethodGet) {
		return
	}
	tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok || tok == "" {
		w.Header().Set("WWW-Authenticate", `Bearer realm="meet"`)
		writeError(w, http.StatusUnauthorized, codeUnauth, "send the join token as Authorization: Bearer <token>")
		return
	}
	claims, err := s.issuer.Verify(tok)
	if err != nil {
		msg := "token refused; fetch a new one from POST /api/token"
		if errors.Is(err, auth.ErrTokenExpired) {
			msg = "token expired; fetch a new one from POST /api/token"
		}
		w.Header().Set("WWW-Authenticate", `Bearer realm="meet", error="invalid_token"`)
		writeError(w, http.StatusUnauthorized, codeUnauth, msg)
		return
	}
	if !s.present.has(claims.Subject) {
		writeError(w, http.StatusForbidden, codeNotInCall, "join the meeting first; ICE servers come with the welcome")
		return
	}
	writeJSON(w, http.StatusOK, iceResponse{ICEServers: s.iceServers(claims.Subject)})
}

// iceServers returns the static servers plus TURN with credentials bound to
// one participant id.
func (s *Server) iceServers(id string) []signaling.ICEServer {
	out := append([]signaling.ICEServer{}, s.cfg.ICEServers...)
	if t := s.cfg.TURN; len(t.URLs) > 0 {
		user, pass := auth.TURNCredentials(t.Secret, id, t.TTL, time.Now())
		out = append(out, signaling.ICEServer{URLs: t.URLs, Username: user, Credential: pass})
	}
	if e := s.cfg.EmbeddedTURN; e != nil {
		ttl := s.cfg.TURN.TTL
		if e.TTL > 0 {
			ttl = e.TTL
		}
		user, pass := auth.TURNCredentials(s.cfg.TURN.Secret, id, ttl, time.Now())
		out = append(out, signaling.ICEServer{URLs: s.turnURLs, Username: user, Credential: pass})
	}
	return out
}

// wsURL is the signaling URL a browser should open: from PublicURL when
// configured, else from the request as the browser made it. Trusting
// X-Forwarded-Proto is harmless here: a forged header only misleads the
// client that forged it.
func (s *Server) wsURL(r *http.Request) string {
	if s.public != nil {
		u := *s.public
		u.Scheme = map[string]string{"http": "ws", "https": "wss"}[u.Scheme]
		u.Path = path.Join("/", u.Path, "ws")
		u.RawQuery, u.Fragment = "", ""
		return u.String()
	}
	scheme := "ws"
	proto, _, _ := strings.Cut(r.Header.Get("X-Forwarded-Proto"), ",")
	if r.TLS != nil || strings.EqualFold(strings.TrimSpace(proto), "https") {
		scheme = "wss"
	}
	return (&url.URL{Scheme: scheme, Host: r.Host, Path: "/ws"}).String()
}

// checkOrigin lets the WebSocket be opened by pages of this server (same
// host, or PublicURL) and AllowedOrigins, and by clients that send no
// Origin (not browsers, so no cross-site risk).
func (s *Server) checkOrigin(r *http.Request) bool {
	origin := r.Header.Get("Origin")
	if origin == "" {
		return true
	}
	u, err := url.Parse(origin)
	if err != nil {
		return false
	}
	if strings.EqualFold(u.Host, r.Host) {
		return true
	}
	for _, o := range s.origins {
		if strings.EqualFold(o, u.Scheme+"://"+u.Host) {
			return true
		}
	}
	return false
}

func (s *Server) handleHealth(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

// handleRoomPage serves the web client for /r/<code>; a malformed code gets
// a 404 so mistyped links fail at once rather than inside the page.
func (s *Server) handleRoomPage(w http.ResponseWriter, r *http.Request) {
	if _, err := auth.ParseRoomCode(r.PathValue("code")); err != nil {
		http.Error(w, "There is no meeting at this address. Check the link.", http.StatusNotFound)
		return
	}
	s.web.ServeHTTP(w, r)
}

func (s *Server) handleAPINotFound(w http.ResponseWriter, r *http.Request) {
	writeError(w, http.StatusNotFound, codeNotFound, "no such API endpoint")
}
