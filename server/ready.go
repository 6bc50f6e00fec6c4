package server

import (
	"context"
	"net/http"
	"time"
)

// ReadyCheck is one dependency /readyz asks about, for example Redis in
// cluster mode. Check returns nil when the dependency is usable; it is given
// a context with a short time-out.
type ReadyCheck struct {
	Name  string // shown in the /readyz answer and logs; no secrets
	Check func(ctx context.Context) error
}

// readyTimeout bounds each check: a load balancer polls /readyz every few
// seconds and a hanging dependency is as bad as a failing one.
const readyTimeout = 2 * time.Second

// readyBody is an errorBody (error and code, as every API error) plus the
// status and the names of failed checks.
type readyBody struct {
	Status string   `json:"status"`
	Failed []string `json:"failed,omitempty"`
	Error  string   `json:"error,omitempty"`
	Code   string   `json:"code,omitempty"`
}

// handleReady answers 200 when the node takes new calls: not draining and
// every ReadyCheck passes. Only check names are shown; the errors go to the
// log, since they may name internal addresses.
func (s *Server) handleReady(w http.ResponseWriter, r *http.Request) {
	if s.draining.Load() {
		writeJSON(w, http.StatusServiceUnavailable, readyBody{Status: "draining", Error: "shutting down", Code: codeDraining})
		return
	}
	var failed []string
	for _, c := range s.cfg.ReadyChecks {
		ctx, cancel := context.WithTimeout(r.Context(), readyTimeout)
		err := c.Check(ctx)
		cancel()
		if err != nil {
			failed = append(failed, c.Name)
			s.log.Warn("readiness check failed", "check", c.Name, "err", err)
		}
	}
	if len(failed) > 0 {
		writeJSON(w, http.StatusServiceUnavailable, readyBody{Status: "not ready", Failed: failed, Error: "a dependency is down", Code: codeNotReady})
		return
	}
	writeJSON(w, http.StatusOK, readyBody{Status: "ready"})
}
