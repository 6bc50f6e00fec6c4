package server

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"github.com/monkeythorn/meet/internal/leaktest"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/pion/turn/v5"
	"github.com/pion/webrtc/v4"

	"github.com/gorilla/websocket"
	"github.com/monkeythorn/meet/admission"
	"github.com/monkeythorn/meet/auth"
	"github.com/monkeythorn/meet/internal/testcert"
	"github.com/monkeythorn/meet/sfu"
	"github.com/monkeythorn/meet/sfu/rtxbudget"
	"github.com/monkeythorn/meet/signaling"
)

// selfSigned makes a certificate for 127.0.0.1 and "meet.test" with the
// given serial (so tests can tell two apart) and writes it as PEM files.
func selfSigned(t *testing.T, dir string, serial int64) (certFile, keyFile string, pool *x509.CertPool) {
	t.Helper()
	cert, pool := testcert.Loopback(t, serial, "meet.test")
	certFile, keyFile = testcert.WriteFiles(t, dir, cert)
	return certFile, keyFile, pool
}

// serveTLS runs s on an HTTPS listener of 127.0.0.1 until the test ends
// (the test's Shutdown closes it).
func serveTLS(t *testing.T, s *Server, cfg *tls.Config) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	// Shutdown (in newTestServer's cleanup) waits for Serve to return.
	go func() { _ = s.ServeTLS(ln, cfg) }()
	return "https://" + ln.Addr().String()
}

func tlsClient(pool *x509.CertPool, minV, maxV uint16) *http.Client {
	return &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{
		TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: minV, MaxVersion: maxV},
	}}
}

// TestTLS13OnlyAndHeaders: the binary's HTTPS refuses TLS 1.2, serves TLS
// 1.3, and every kind of response (page, room page, asset, API, health)
// carries the security headers, with HSTS over HTTPS only.
func TestTLS13OnlyAndHeaders(t *testing.T) {
	leaktest.Check(t)
	ts := newTestServer(t, nil)
	certFile, keyFile, pool := selfSigned(t, t.TempDir(), 1)
	cf, err := LoadCertFiles(certFile, keyFile)
	if err != nil {
		t.Fatal(err)
	}
	base := serveTLS(t, ts.s, TLSConfig(cf.GetCertificate))

	old := tlsClient(pool, tls.VersionTLS10, tls.VersionTLS12)
	defer old.CloseIdleConnections()
	if resp, err := old.Get(base + "/"); err == nil {
		resp.Body.Close()
		t.Fatal("a TLS 1.2 client was served")
	} else if !strings.Contains(err.Error(), "protocol version") {
		t.Errorf("TLS 1.2 refused with %v, want a protocol version alert", err)
	}

	c := tlsClient(pool, tls.VersionTLS13, tls.VersionTLS13)
	defer c.CloseIdleConnections()
	room := ts.newRoom()
	for _, p := range []string{"/", "/r/" + room, "/static/css/app.css", "/static/js/main.js", "/healthz", "/api/nope", "/r/NOTACODE1"} {
		resp, err := c.Get(base + p)
		if err != nil {
			t.Fatalf("GET %s: %v", p, err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.TLS == nil || resp.TLS.Version != tls.VersionTLS13 {
			t.Errorf("GET %s: not TLS 1.3: %+v", p, resp.TLS)
		}
		checkSecurityHeaders(t, p, resp.Header, true)
	}
	// Plain HTTP (behind a proxy): the same headers, no HSTS.
	for _, p := range []string{"/", "/r/" + room, "/static/css/app.css"} {
		st, hdr, _ := ts.do("GET", p, "", nil)
		if st != 200 {
			t.Errorf("GET %s over HTTP: %d", p, st)
		}
		checkSecurityHeaders(t, p, hdr, false)
	}
}

func checkSecurityHeaders(t *testing.T, path string, h http.Header, https bool) {
	t.Helper()
	csp := h.Get("Content-Security-Policy")
	for _, d := range []string{"default-src 'self'", "frame-ancestors 'none'", "base-uri 'none'", "script-src 'self'", "connect-src 'self'"} {
		if !strings.Contains(csp, d) {
			t.Errorf("%s: CSP %q lacks %q", path, csp, d)
		}
	}
	// Nothing from another origin: no scheme or host source in any directive.
	for _, bad := range []string{"http:", "https:", "*", "'unsafe-inline'", "'unsafe-eval'"} {
		if strings.Contains(csp, bad) {
			t.Errorf("%s: CSP %q allows %s", path, csp, bad)
		}
	}
	want := map[string]string{
		"X-Content-Type-Options": "nosniff",
		"Referrer-Policy":        "no-referrer",
	}
	for k, v := range want {
		if h.Get(k) != v {
			t.Errorf("%s: %s = %q, want %q", path, k, h.Get(k), v)
		}
	}
	pp := h.Get("Permissions-Policy")
	// The web package sets its own, shorter policy on pages; both keep
	// these three to our own origin.
	for _, d := range []string{"camera=(self)", "microphone=(self)", "display-capture=(self)"} {
		if !strings.Contains(pp, d) {
			t.Errorf("%s: Permissions-Policy %q lacks %s", path, pp, d)
		}
	}
	if got := h.Get("Strict-Transport-Security"); (got != "") != https {
		t.Errorf("%s: HSTS %q over https=%v", path, got, https)
	}
}

// TestCertFilesReload: a renewed certificate is served after Reload, and a
// broken renewal keeps the old one.
func TestCertFilesReload(t *testing.T) {
	leaktest.Check(t)
	dir := t.TempDir()
	certFile, keyFile, pool1 := selfSigned(t, dir, 1)
	cf, err := LoadCertFiles(certFile, keyFile)
	if err != nil {
		t.Fatal(err)
	}
	ts := newTestServer(t, nil)
	base := serveTLS(t, ts.s, TLSConfig(cf.GetCertificate))
	serial := func(pool *x509.CertPool) int64 {
		t.Helper()
		c := tlsClient(pool, tls.VersionTLS13, 0)
		defer c.CloseIdleConnections()
		resp, err := c.Get(base + "/healthz")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.TLS.PeerCertificates[0].SerialNumber.Int64()
	}
	if s := serial(pool1); s != 1 {
		t.Fatalf("serial %d", s)
	}
	_, _, pool2 := selfSigned(t, dir, 2) // overwrites the files
	if s := serial(pool1); s != 1 {
		t.Fatalf("changed before Reload: serial %d", s)
	}
	if err := cf.Reload(); err != nil {
		t.Fatal(err)
	}
	if s := serial(pool2); s != 2 {
		t.Fatalf("after Reload: serial %d", s)
	}
	if err := os.WriteFile(keyFile, []byte("garbage"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := cf.Reload(); err == nil {
		t.Fatal("Reload of a broken key succeeded")
	}
	if s := serial(pool2); s != 2 {
		t.Fatalf("after a failed Reload: serial %d", s)
	}
}

func TestReadyChecks(t *testing.T) {
	leaktest.Check(t)
	var redisDown bool
	ts := newTestServer(t, func(c *Config) {
		c.ReadyChecks = []ReadyCheck{
			{Name: "redis", Check: func(context.Context) error {
				if redisDown {
					return errors.New("dial tcp 10.0.0.5:6379: connection refused")
				}
				return nil
			}},
			{Name: "always", Check: func(context.Context) error { return nil }},
		}
	})
	if st, _, b := ts.do("GET", "/readyz", "", nil); st != 200 {
		t.Fatalf("ready: %d %s", st, b)
	}
	redisDown = true
	st, hdr, b := ts.do("GET", "/readyz", "", nil)
	checkJSONError(t, st, hdr, b, 503, codeNotReady)
	var body readyBody
	_ = json.Unmarshal(b, &body)
	if len(body.Failed) != 1 || body.Failed[0] != "redis" || strings.Contains(string(b), "10.0.0.5") {
		t.Errorf("body %s: want only the failed check's name", b)
	}
	if st, _, _ := ts.do("GET", "/healthz", "", nil); st != 200 {
		t.Errorf("healthz %d while a dependency is down: it is liveness only", st)
	}
}

// TestDrainWaitsForCalls: Drain refuses new joins at once, tells the
// clients, and returns only when the last one has left.
func TestDrainWaitsForCalls(t *testing.T) {
	leaktest.Check(t)
	ts := newTestServer(t, nil)
	room := ts.newRoom()
	tr := ts.token(room, true)
	c, m := wsJoin(t, tr.WS, signaling.Join{Token: tr.Token})
	if m["type"] != "welcome" {
		t.Fatalf("got %v", m)
	}
	spare := ts.token(room, true) // issued before the drain

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	drained := make(chan error, 1)
	go func() { drained <- ts.s.Drain(ctx, "maintenance: this server restarts soon") }()

	if m := readMsg(t, c); m["type"] != signaling.TypeDrain || m["message"] != "maintenance: this server restarts soon" {
		t.Errorf("got %v, want the drain message", m)
	}
	st, hdr, b := ts.do("GET", "/readyz", "", nil)
	checkJSONError(t, st, hdr, b, 503, codeDraining)
	st, hdr, b = ts.do("POST", "/api/token", `{"room":"`+room+`"}`, nil)
	checkJSONError(t, st, hdr, b, 503, codeDraining)
	if _, m := wsJoin(t, spare.WS, signaling.Join{Token: spare.Token}); m["code"] != signaling.CodeDraining {
		t.Errorf("join while draining: %v", m)
	}
	select {
	case err := <-drained:
		t.Fatalf("Drain returned %v with a call in progress", err)
	case <-time.After(300 * time.Millisecond):
	}
	_ = c.WriteJSON(signaling.Leave{Type: signaling.TypeLeave})
	c.Close()
	select {
	case err := <-drained:
		if err != nil {
			t.Fatalf("Drain: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Drain did not return after the last client left")
	}
}

func TestDrainTimesOut(t *testing.T) {
	leaktest.Check(t)
	ts := newTestServer(t, nil)
	tr := ts.token(ts.newRoom(), true)
	c, _ := wsJoin(t, tr.WS, signaling.Join{Token: tr.Token})
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	if err := ts.s.Drain(ctx, "bye"); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Drain with a client still in: %v", err)
	}
}

// newTURNServer is a test server with embedded TURN on 127.0.0.1.
func newTURNServer(t *testing.T) *testServer {
	t.Helper()
	return newTestServer(t, func(c *Config) {
		c.EmbeddedTURN = &EmbeddedTURN{Host: "127.0.0.1", UDPAddr: "127.0.0.1:0", TCPAddr: "127.0.0.1:0", RelayIP: net.IPv4(127, 0, 0, 1)}
	})
}

// joinedWelcome joins room over /ws from dialer d (nil: the default) and
// returns the welcome; the session stays open until the test ends.
func joinedWelcome(t *testing.T, ts *testServer, d *websocket.Dialer, room string) signaling.Welcome {
	t.Helper()
	tr := ts.token(room, true)
	if d == nil {
		d = websocket.DefaultDialer
	}
	c, _, err := d.Dial(tr.WS, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	if err := c.WriteJSON(signaling.Join{Type: signaling.TypeJoin, Version: signaling.Version, Token: tr.Token}); err != nil {
		t.Fatal(err)
	}
	var w signaling.Welcome
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	if err := c.ReadJSON(&w); err != nil || w.Type != signaling.TypeWelcome {
		t.Fatalf("welcome: %+v %v", w, err)
	}
	return w
}

// turnCreds is the welcome's TURN entry.
func turnCreds(t *testing.T, w signaling.Welcome) signaling.ICEServer {
	t.Helper()
	for _, s := range w.ICEServers {
		if s.Username != "" {
			return s
		}
	}
	t.Fatalf("welcome without TURN credentials: %+v", w.ICEServers)
	return signaling.ICEServer{}
}

// TestRelayOnlyCallThroughEmbeddedTURN: two Pion clients that may use
// relay candidates only (ICETransportPolicyRelay) exchange audio and video
// through the embedded TURN server, with the credentials the welcome
// carries (and the token response does not).
func TestRelayOnlyCallThroughEmbeddedTURN(t *testing.T) {
	leaktest.Check(t)
	ts := newTURNServer(t)
	for _, s := range ts.token(ts.newRoom(), true).ICEServers {
		if s.Username != "" {
			t.Errorf("token response hands out TURN credentials %+v before any join", s)
		}
	}
	turnURLs := turnCreds(t, joinedWelcome(t, ts, nil, ts.newRoom())).URLs
	udp, tcp, _ := ts.s.TURNAddrs()
	if strings.Join(turnURLs, " ") != "turn:"+udp.String()+"?transport=udp turn:"+tcp.String()+"?transport=tcp" {
		t.Fatalf("welcome's TURN URLs %v; TURN listens on %v and %v", turnURLs, udp, tcp)
	}
	room := ts.newRoom()
	var clients []*pionClient
	for i := range 2 {
		c := joinPionWith(t, ts, room, byte(i+1), pionOptions{relayOnly: true})
		clients = append(clients, c)
		t.Cleanup(c.leave)
	}
	waitMedia(t, clients, clients, 25, 20*time.Second)
	for _, c := range clients {
		c.checkErrors(t)
		for _, pc := range []*webrtc.PeerConnection{c.pub, c.sub} {
			if typ := selectedLocalType(t, pc); typ != "relay" {
				t.Errorf("client %d: selected local candidate %q, want relay", c.index, typ)
			}
		}
	}
	if n := ts.s.turn.AllocationCount(); n < 4 {
		t.Errorf("%d TURN allocations; want one per peer connection (4)", n)
	}
}

func selectedLocalType(t *testing.T, pc *webrtc.PeerConnection) string {
	t.Helper()
	for _, s := range pc.GetStats() {
		if p, ok := s.(webrtc.ICECandidatePairStats); ok && p.Nominated && p.State == webrtc.StatsICECandidatePairStateSucceeded {
			if l, ok := pc.GetStats()[p.LocalCandidateID].(webrtc.ICECandidateStats); ok {
				return l.CandidateType.String()
			}
		}
	}
	return ""
}

// turnClient allocates a relay on the embedded TURN server over UDP.
func turnClient(t *testing.T, ts *testServer, user, pass string) (*turn.Client, error) {
	t.Helper()
	return turnClientFrom(t, ts, "127.0.0.1", user, pass)
}

// turnClientFrom is turnClient on a UDP socket of address src.
func turnClientFrom(t *testing.T, ts *testServer, src, user, pass string) (*turn.Client, error) {
	t.Helper()
	udp, _, _ := ts.s.TURNAddrs()
	conn, err := net.ListenPacket("udp4", src+":0")
	if err != nil {
		t.Fatal(err)
	}
	cl, err := turn.NewClient(&turn.ClientConfig{TURNServerAddr: udp.String(), Conn: conn, Username: user, Password: pass, RTO: 100 * time.Millisecond})
	if err != nil {
		conn.Close()
		t.Fatal(err)
	}
	if err := cl.Listen(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cl.Close()
		conn.Close()
	})
	return cl, nil
}

// TestEmbeddedTURNIsNotAnOpenRelay: with the credentials every client
// gets, a relay reaches the SFU's media port but no other address, and
// expired credentials are refused.
func TestEmbeddedTURNIsNotAnOpenRelay(t *testing.T) {
	leaktest.Check(t)
	ts := newTURNServer(t)
	w := joinedWelcome(t, ts, nil, ts.newRoom())
	ice := turnCreds(t, w)
	cl, _ := turnClient(t, ts, ice.Username, ice.Credential)
	relay, err := cl.Allocate()
	if err != nil {
		t.Fatalf("Allocate with the welcome's credentials: %v", err)
	}
	defer relay.Close()

	// A foreign host (another loopback IP, so still no traffic leaves the
	// machine): the permission is refused.
	foreign, err := net.ListenPacket("udp4", "127.0.0.2:0")
	if err != nil {
		t.Fatal(err)
	}
	defer foreign.Close()
	if _, err := relay.WriteTo([]byte("hello"), foreign.LocalAddr()); err == nil {
		t.Error("relay to a foreign host accepted")
	}
	// Another port on the SFU's own IP (any local service): dropped.
	local, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer local.Close()
	for range 3 {
		_, _ = relay.WriteTo([]byte("hello"), local.LocalAddr())
	}
	_ = local.SetReadDeadline(time.Now().Add(500 * time.Millisecond))
	if n, from, err := local.ReadFrom(make([]byte, 100)); err == nil {
		t.Errorf("a local service received %d bytes from %v through the relay", n, from)
	}
	// The SFU's media port is allowed.
	if _, err := relay.WriteTo([]byte("stun-ish"), ts.s.MediaAddr()); err != nil {
		t.Errorf("relay to the SFU refused: %v", err)
	}
	st := ts.s.turn.Stats()
	if st.RefusedPermissions == 0 || st.DroppedToPeer == 0 {
		t.Errorf("TURN stats %+v: refusals not counted", st)
	}

	// Expired credentials of the participant in the call, correctly
	// signed: a new allocation needs fresh ones.
	user, pass := auth.TURNCredentials(auth.TURNSecret(testSecret), w.ID, -time.Minute, time.Now())
	cl2, _ := turnClient(t, ts, user, pass)
	if r, err := cl2.Allocate(); err == nil {
		r.Close()
		t.Error("expired credentials allowed an allocation")
	}
	// Credentials signed with another secret, or with the token secret
	// itself (TURN's is derived from it with its own label).
	for _, secret := range [][]byte{[]byte("not-the-server-secret-not-the-server-secret"), testSecret} {
		user, pass = auth.TURNCredentials(secret, w.ID, time.Minute, time.Now())
		cl3, _ := turnClient(t, ts, user, pass)
		if r, err := cl3.Allocate(); err == nil {
			r.Close()
			t.Error("foreign credentials allowed an allocation")
		}
	}
	// Fresh, correctly signed credentials of someone not in a call.
	user, pass = auth.TURNCredentials(auth.TURNSecret(testSecret), "someone", time.Minute, time.Now())
	cl4, _ := turnClient(t, ts, user, pass)
	if r, err := cl4.Allocate(); err == nil {
		r.Close()
		t.Error("credentials of a participant not in a call allowed an allocation")
	}
}

// TestICETCPCall: clients that may use TCP only reach the SFU over its
// ICE-TCP port.
func TestICETCPCall(t *testing.T) {
	leaktest.Check(t)
	port := freeTCPPort(t)
	ts := newTestServer(t, func(c *Config) { c.SFU.TCPPort = port })
	room := ts.newRoom()
	var clients []*pionClient
	for i := range 2 {
		c := joinPionWith(t, ts, room, byte(i+1), pionOptions{networks: []webrtc.NetworkType{webrtc.NetworkTypeTCP4}})
		clients = append(clients, c)
		t.Cleanup(c.leave)
	}
	waitMedia(t, clients, clients, 25, 20*time.Second)
	for _, c := range clients {
		c.checkErrors(t)
	}
}

func freeTCPPort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// TestMetricsDuringCall: the metrics of a node with a call in progress
// count it, and no label or value carries the room code, a participant id
// or the token.
func TestMetricsDuringCall(t *testing.T) {
	leaktest.Check(t)
	ts := newTURNServer(t)
	room := ts.newRoom()
	var clients []*pionClient
	for i := range 2 {
		c := joinPion(t, ts, room, byte(i+1))
		clients = append(clients, c)
		t.Cleanup(c.leave)
	}
	waitMedia(t, clients, clients, 25, 20*time.Second)
	rec := httptest.NewRecorder()
	ts.s.Metrics().Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	body := rec.Body.String()
	for _, want := range []string{"meet_rooms 1", "meet_participants 2", "meet_tracks 4", "meet_join_duration_seconds_count 2", "meet_turn_allocations 0"} {
		if !strings.Contains(body, want) {
			t.Errorf("metrics lack %q", want)
		}
	}
	if !strings.Contains(body, "meet_forwarded_packets_total") || strings.Contains(body, "meet_forwarded_packets_total 0\n") {
		t.Error("no forwarded packets counted")
	}
	for _, secret := range []string{room, clients[0].id, clients[1].id} {
		if strings.Contains(body, secret) {
			t.Errorf("metrics contain %q", secret)
		}
	}
	// Every reason label comes from the SFU's or TURN's enumeration.
	reasons := map[string]bool{"peer_not_allowed": true, "dropped_to_peer": true, "dropped_from_peer": true, "auth_failure": true, "allocation_quota": true,
		"not_in_call": true, "allocation_quota_source": true, "allocation_quota_total": true, "idle_connection": true, "idle_allocation": true}
	for r := sfu.DropUnknown; r < sfu.DropReason(len(sfu.Stats{}.Drops)); r++ {
		reasons[r.String()] = true
	}
	for r := sfu.KeyframeUnknown; r < sfu.KeyframeReason(len(sfu.Stats{}.PLIs)); r++ {
		reasons[r.String()] = true
	}
	for r := sfu.ReceiveLate; r < sfu.ReceiveDropReason(len(sfu.Stats{}.ReceiveDrops)); r++ {
		reasons[r.String()] = true
	}
	for e := sfu.LivenessUnknown; e < sfu.LivenessEvent(len(sfu.Stats{}.Liveness)); e++ {
		reasons[e.String()] = true
	}
	for v := rtxbudget.Unknown; v < rtxbudget.Verdict(len(sfu.Stats{}.RetransmitsSkipped)); v++ {
		reasons[v.String()] = true
	}
	for _, m := range regexp.MustCompile(`reason="([^"]*)"`).FindAllStringSubmatch(body, -1) {
		if !reasons[m[1]] {
			t.Errorf("reason label %q outside the enumerations", m[1])
		}
	}
	// Every limit label is one of admission's or signaling's limit names.
	limits := map[string]bool{}
	for l := admission.Rooms; l.String() != "unknown"; l++ {
		limits[l.String()] = true
	}
	for _, l := range signalingLimits {
		limits[l] = true
	}
	found := regexp.MustCompile(`meet_limit_refusals_total\{limit="([^"]*)"\}`).FindAllStringSubmatch(body, -1)
	if len(found) == 0 {
		t.Error("no meet_limit_refusals_total in the metrics")
	}
	for _, m := range found {
		if !limits[m[1]] {
			t.Errorf("limit label %q outside admission's limits", m[1])
		}
	}
}
