package server

import (
	"errors"
	"math"
	"mime"
	"net/http"
	"strconv"

	"github.com/monkeythorn/meet/admission"
)

// rateLimited names the routes with a per-address rate limit: the ones that
// cost us (a Stripe call) or that would let a client enumerate room codes
// or pile up state. The WebSocket is limited in admitSession instead, so
// the client gets a signaling error it can show.
var rateLimited = map[string]admission.Limit{
	"POST /api/rooms":          admission.Rooms,
	"POST /api/token":          admission.Tokens,
	"POST /api/checkout":       admission.Checkout,
	"GET /api/checkout/result": admission.Checkout,
}

// jsonOnly are the routes whose body must be application/json: a browser
// sends a cross-site form or text/plain POST without asking (a "simple
// request"), but never one with this content type.
var jsonOnly = map[string]bool{
	"/api/rooms":    true,
	"/api/token":    true,
	"/api/checkout": true,
}

// admit runs the checks that come before any handler: the route's rate
// limit (429 with Retry-After) and the content type (415).
func (s *Server) admit(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost && jsonOnly[r.URL.Path] && r.ContentLength != 0 && !isJSON(r.Header.Get("Content-Type")) {
			s.gate.Count(admission.ContentType)
			writeError(w, http.StatusUnsupportedMediaType, codeContentType, "send the body as Content-Type: application/json")
			return
		}
		if l, ok := rateLimited[r.Method+" "+r.URL.Path]; ok {
			if err := s.gate.Allow(l, s.gate.ClientAddr(r)); err != nil {
				tooMany(w, err)
				return
			}
		}
		next.ServeHTTP(w, r)
	})
}

func isJSON(contentType string) bool {
	mt, _, err := mime.ParseMediaType(contentType)
	return err == nil && mt == "application/json"
}

// tooMany answers 429 with the wait in Retry-After (whole seconds, at
// least 1).
func tooMany(w http.ResponseWriter, err error) {
	var ref *admission.Refusal
	secs := 1
	if errors.As(err, &ref) && ref.RetryAfter.Seconds() > 1 {
		secs = int(math.Ceil(ref.RetryAfter.Seconds()))
	}
	w.Header().Set("Retry-After", strconv.Itoa(secs))
	writeError(w, http.StatusTooManyRequests, codeTooMany, err.Error())
}

// admitSession is the signaling handler's Admit: the upgrade rate, then a
// session slot of the node and of the client's address.
func (s *Server) admitSession(r *http.Request) (func(), error) {
	addr := s.gate.ClientAddr(r)
	if err := s.gate.Allow(admission.Upgrades, addr); err != nil {
		return nil, err
	}
	return s.gate.Acquire(addr)
}

// limitRefusals are the refusals of every abuse limit by name, for
// meet_limit_refusals_total: admission's, and those signaling counts
// (names in signalingLimits).
func (s *Server) limitRefusals() map[string]uint64 {
	m := s.gate.Refusals()
	st := s.sig.Stats()
	m["chat"] = uint64(st.ChatFloods)          // senders cut off for flooding chat
	m["chat_dropped"] = uint64(st.ChatDropped) // chat not queued for a receiver falling behind
	sst := s.sfu.Stats()
	m["tracks"] = sst.TrackRefusals        // offers over the track limits
	m["media_timeout"] = sst.MediaTimeouts // removed: media never connected
	return m
}

// signalingLimits are the limit names limitRefusals adds to admission's.
var signalingLimits = []string{"chat", "chat_dropped", "tracks", "media_timeout"}
