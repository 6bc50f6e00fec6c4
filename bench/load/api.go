package load

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// apiClient talks to the server's HTTP API: POST /api/rooms and
// POST /api/token.
type apiClient struct {
	base *url.URL
	http *http.Client
	// localIP is the address this machine reaches the server from; the
	// clients gather their ICE candidates on it only (127.0.0.1 for a
	// server on loopback).
	localIP net.IP
}

func newAPIClient(base string) (*apiClient, error) {
	u, err := url.Parse(strings.TrimRight(base, "/"))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("%w: --url %q must be http(s)://host:port", ErrConfig, base)
	}
	ip, err := localIPFor(u.Hostname())
	if err != nil {
		return nil, fmt.Errorf("%w: --url %q: %v", ErrConfig, base, err)
	}
	return &apiClient{base: u, http: &http.Client{Timeout: 10 * time.Second}, localIP: ip}, nil
}

// localIPFor returns the local IPv4 address the kernel would send from to
// reach host (the server's media address is assumed to be on the same
// route as its HTTP address). Connecting a UDP socket sends nothing.
func localIPFor(host string) (net.IP, error) {
	c, err := net.Dial("udp4", net.JoinHostPort(host, "9"))
	if err != nil {
		return nil, err
	}
	defer c.Close()
	return c.LocalAddr().(*net.UDPAddr).IP, nil
}

func (a *apiClient) post(ctx context.Context, path string, in, out any) error {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return err
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, a.base.String()+path, body)
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := a.http.Do(req)
	if err != nil {
		return fmt.Errorf("%w: POST %s: %v", ErrAPI, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("%w: POST %s: %s: %s", ErrAPI, path, resp.Status, bytes.TrimSpace(b))
	}
	if err := json.Unmarshal(b, out); err != nil {
		return fmt.Errorf("%w: POST %s: %v", ErrAPI, path, err)
	}
	return nil
}

// createRoom asks for a new room code.
func (a *apiClient) createRoom(ctx context.Context) (string, error) {
	var r struct {
		Code string `json:"code"`
	}
	if err := a.post(ctx, "/api/rooms", nil, &r); err != nil {
		return "", err
	}
	if r.Code == "" {
		return "", fmt.Errorf("%w: POST /api/rooms returned no code", ErrAPI)
	}
	return r.Code, nil
}

// token asks for a join token and returns it with the WebSocket URL.
func (a *apiClient) token(ctx context.Context, room string, e2ee bool) (token, ws string, err error) {
	var r struct {
		Token string `json:"token"`
		WS    string `json:"ws"`
	}
	in := map[string]any{"room": room, "e2ee": e2ee}
	if err := a.post(ctx, "/api/token", in, &r); err != nil {
		return "", "", err
	}
	if r.Token == "" {
		return "", "", fmt.Errorf("%w: POST /api/token returned no token", ErrAPI)
	}
	return r.Token, a.wsURL(r.WS), nil
}

// wsURL resolves the "ws" the server returned, which may be absolute or a
// path, against the base URL; empty means /ws.
func (a *apiClient) wsURL(ws string) string {
	if ws == "" {
		ws = "/ws"
	}
	ref, err := url.Parse(ws)
	if err != nil {
		ref = &url.URL{Path: "/ws"}
	}
	u := a.base.ResolveReference(ref)
	switch u.Scheme {
	case "http":
		u.Scheme = "ws"
	case "https":
		u.Scheme = "wss"
	}
	return u.String()
}
