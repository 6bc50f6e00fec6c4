package cluster

import (
	"context"
	"errors"
	"net/http"
	"syscall"
	"time"
)

// probeTimeout bounds one probe of a node a participant lost. A dead
// process's port refuses at once; a node that does not answer this fast is
// not proven gone and keeps its rooms until its heartbeat is Missing.
const probeTimeout = 300 * time.Millisecond

// HTTPProbe asks the node's /healthz. The node is gone when the connection
// is refused or reset (no process listens), or when a proxy in front of it
// answers 502 or 504 (its backend is down). Anything else, including a
// time-out, is no proof.
func HTTPProbe(ctx context.Context, nodeURL string) bool {
	ctx, cancel := context.WithTimeout(ctx, probeTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, nodeURL+"/healthz", nil)
	if err != nil {
		return false
	}
	// A fresh connection without keep-alive: an idle one to a dead node
	// must not answer for it.
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	resp, err := client.Do(req)
	if err != nil {
		return errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ECONNRESET)
	}
	resp.Body.Close()
	return resp.StatusCode == http.StatusBadGateway || resp.StatusCode == http.StatusGatewayTimeout
}
