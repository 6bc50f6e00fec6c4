package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"github.com/monkeythorn/meet/internal/leaktest"
	"github.com/monkeythorn/meet/internal/logbuf"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// noFixedPorts turns off the listeners whose defaults are fixed ports
// (TURN 3478, ICE-TCP 7881, metrics 9090), so tests never collide with
// each other or with a server running on the machine.
var noFixedPorts = []string{"--turn-udp-port=0", "--turn-tcp-port=0", "--ice-tcp-port=0", "--metrics-listen="}

func TestParseOpsFlags(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		name    string
		args    []string
		check   func(t *testing.T, c *config)
		wantErr string
	}{
		{"defaults", nil, func(t *testing.T, c *config) {
			o := c.Ops
			if o.TLS() || o.TURNUDPPort != 3478 || o.TURNTCPPort != 3478 || o.TURNTLSPort != 5349 || o.ICETCPPort != 7881 ||
				o.MetricsListen != "127.0.0.1:9090" || o.DrainTimeout != 30*time.Second || o.HTTPListen != ":80" {
				t.Errorf("%+v", o)
			}
		}, ""},
		{"domain sets the public URL", []string{"--domain", "Meet.Example.com", "--cert-cache", dir}, func(t *testing.T, c *config) {
			if !c.Ops.TLS() || c.Ops.Domain != "meet.example.com" || c.PublicURL != "https://meet.example.com" {
				t.Errorf("%+v %q", c.Ops, c.PublicURL)
			}
		}, ""},
		{"relay range", []string{"--turn-relay-ports", "49160-49200"}, func(t *testing.T, c *config) {
			if c.Ops.RelayPortMin != 49160 || c.Ops.RelayPortMax != 49200 {
				t.Errorf("%+v", c.Ops)
			}
		}, ""},
		{"metrics off", []string{"--metrics-listen="}, func(t *testing.T, c *config) {
			if c.Ops.MetricsListen != "" {
				t.Errorf("%q", c.Ops.MetricsListen)
			}
		}, ""},
		{"domain and files", []string{"--domain", "meet.example.com", "--tls-cert", "a", "--tls-key", "b"}, nil, "not both"},
		{"cert without key", []string{"--tls-cert", "a"}, nil, "go together"},
		{"bad domain", []string{"--domain", "https://meet.example.com"}, nil, "--domain"},
		{"no cache", []string{"--domain", "meet.example.com", "--cert-cache="}, nil, "--cert-cache"},
		{"bad acme url", []string{"--acme-directory", "http://ca.example/dir"}, nil, "--acme-directory"},
		{"bad turn port", []string{"--turn-udp-port", "99999"}, nil, "--turn-udp-port"},
		{"bad ice port", []string{"--ice-tcp-port", "x"}, nil, "--ice-tcp-port"},
		{"bad range", []string{"--turn-relay-ports", "5000-4000"}, nil, "--turn-relay-ports"},
		{"bad metrics", []string{"--metrics-listen", "9090"}, nil, "--metrics-listen"},
		{"bad drain", []string{"--drain-timeout", "soon"}, nil, "--drain-timeout"},
		{"pprof on loopback", []string{"--debug-pprof=true", "--metrics-listen", "[::1]:9090"}, func(t *testing.T, c *config) {
			if !c.Ops.DebugPprof {
				t.Errorf("%+v", c.Ops)
			}
		}, ""},
		{"pprof on all interfaces", []string{"--debug-pprof=true", "--metrics-listen", ":9090"}, nil, "--debug-pprof"},
		{"pprof without metrics", []string{"--debug-pprof=true", "--metrics-listen="}, nil, "--debug-pprof"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := parseConfig(tt.args, env("MEET_SECRET", secret32), io.Discard)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err %v, want one mentioning %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			tt.check(t, c)
		})
	}
}

// pebble runs Let's Encrypt's test CA on loopback, validating every
// challenge (PEBBLE_VA_ALWAYS_VALID), and returns its directory URL, the
// file with the root its HTTPS API is served under, and its management
// address.
func pebble(t *testing.T) (dirURL, apiRootFile, mgmt string) {
	t.Helper()
	bin, err := filepath.Abs("../../bin/pebble")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(bin); err != nil {
		t.Fatalf("%s missing (%v): run `make tools`", bin, err)
	}
	out, err := exec.Command("go", "env", "GOMODCACHE").Output()
	if err != nil {
		t.Fatal(err)
	}
	certs := filepath.Join(strings.TrimSpace(string(out)), "github.com/letsencrypt/pebble/v2@v2.10.3/test/certs")
	if _, err := os.Stat(certs); err != nil {
		t.Fatalf("Pebble's test certificates: %v (run `make tools`, which downloads the module)", err)
	}
	port := func() int {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer ln.Close()
		return ln.Addr().(*net.TCPAddr).Port
	}
	api, mg := fmt.Sprintf("127.0.0.1:%d", port()), fmt.Sprintf("127.0.0.1:%d", port())
	dir := t.TempDir()
	conf := map[string]any{"pebble": map[string]any{
		"listenAddress": api, "managementListenAddress": mg,
		"certificate": filepath.Join(certs, "localhost/cert.pem"), "privateKey": filepath.Join(certs, "localhost/key.pem"),
		"httpPort": port(), "tlsPort": port(), "ocspResponderURL": "", "externalAccountBindingRequired": false,
	}}
	b, _ := json.Marshal(conf)
	cfgFile := filepath.Join(dir, "pebble.json")
	if err := os.WriteFile(cfgFile, b, 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, bin, "-config", cfgFile, "-strict")
	cmd.Env = append(os.Environ(), "PEBBLE_VA_ALWAYS_VALID=1", "PEBBLE_VA_NOSLEEP=1", "PEBBLE_WFE_NONCEREJECT=0", "PEBBLE_AUTHZREUSE=100")
	logs := &logbuf.Buffer{}
	cmd.Stdout, cmd.Stderr = logs, logs
	if err := cmd.Start(); err != nil {
		cancel()
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cancel()
		_ = cmd.Wait()
		if t.Failed() {
			t.Logf("pebble:\n%s", logs.String())
		}
	})
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(logs.String(), "Listening on") {
		if time.Now().After(deadline) {
			t.Fatalf("pebble did not start:\n%s", logs.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	return "https://" + api + "/dir", filepath.Join(certs, "pebble.minica.pem"), mg
}

// TestACMEWithPebble: with --domain the server gets a certificate from a
// real ACME CA (Pebble) and serves TLS 1.3 with it; the certificate is
// kept in --cert-cache, the one directory it writes to.
func TestACMEWithPebble(t *testing.T) {
	leaktest.Check(t)
	dirURL, apiRoot, mgmt := pebble(t)
	cache := filepath.Join(t.TempDir(), "certs")
	var stderr logbuf.Buffer
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan int, 1)
	go func() {
		done <- run(ctx, append([]string{"--dev", "--listen", "127.0.0.1:0", "--http-listen", "127.0.0.1:0", "--udp-port", "0",
			"--media-ip", "127.0.0.1", "--log-format", "json", "--domain", "meet.test", "--cert-cache", cache,
			"--acme-directory", dirURL, "--acme-ca-file", apiRoot, "--drain-timeout", "0s"}, noFixedPorts...), env(), io.Discard, &stderr)
	}()
	defer func() {
		cancel()
		select {
		case code := <-done:
			if code != 0 {
				t.Errorf("exit %d:\n%s", code, stderr.String())
			}
		case <-time.After(15 * time.Second):
			t.Error("no exit after cancel")
		}
	}()
	running := waitRunning(t, &stderr)
	httpsAddr, acmeAddr := running["https"], running["acme_http"]
	if httpsAddr == "" || acmeAddr == "" {
		t.Fatalf("start-up line %v lacks https or acme_http", running)
	}

	// The issuing root of this Pebble run (it makes a new one each start).
	mc := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}} // management API: only the root is read, and it is checked below by verifying the chain
	resp, err := mc.Get("https://" + mgmt + "/roots/0")
	if err != nil {
		t.Fatal(err)
	}
	rootPEM, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(rootPEM) {
		t.Fatalf("no root from Pebble: %q", rootPEM)
	}

	// The first handshake for meet.test triggers the order; retry until
	// the certificate is there.
	var state tls.ConnectionState
	deadline := time.Now().Add(30 * time.Second)
	for {
		conn, err := tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", httpsAddr,
			&tls.Config{ServerName: "meet.test", RootCAs: roots, MinVersion: tls.VersionTLS13})
		if err == nil {
			state = conn.ConnectionState()
			conn.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no valid certificate for meet.test after 30 s: %v\n%s", err, stderr.String())
		}
		time.Sleep(250 * time.Millisecond)
	}
	if state.Version != tls.VersionTLS13 || state.PeerCertificates[0].DNSNames[0] != "meet.test" {
		t.Errorf("TLS %x, names %v", state.Version, state.PeerCertificates[0].DNSNames)
	}
	// TLS 1.2 is refused with the same certificate.
	if c, err := tls.Dial("tcp", httpsAddr, &tls.Config{ServerName: "meet.test", RootCAs: roots, MaxVersion: tls.VersionTLS12}); err == nil {
		c.Close()
		t.Error("TLS 1.2 accepted")
	}
	// HTTPS answers with HSTS; the ACME port redirects to HTTPS.
	hc := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{
		TLSClientConfig: &tls.Config{ServerName: "meet.test", RootCAs: roots}},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	defer hc.CloseIdleConnections()
	resp, err = hc.Get("https://" + httpsAddr + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 || resp.Header.Get("Strict-Transport-Security") == "" {
		t.Errorf("GET /healthz over HTTPS: %d %v", resp.StatusCode, resp.Header)
	}
	req, _ := http.NewRequest("GET", "http://"+acmeAddr+"/r/abc", nil)
	req.Host = "meet.test"
	resp, err = hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if loc := resp.Header.Get("Location"); resp.StatusCode/100 != 3 || !strings.HasPrefix(loc, "https://meet.test/") {
		t.Errorf("plain HTTP: %d to %q, want a redirect to https://meet.test/", resp.StatusCode, loc)
	}
	// The certificate is in the cache directory (and only there).
	files, _ := os.ReadDir(cache)
	var names []string
	for _, f := range files {
		names = append(names, f.Name())
	}
	if !strings.Contains(strings.Join(names, " "), "meet.test") {
		t.Errorf("cache holds %v, want the meet.test certificate", names)
	}
	if p := pemCount(t, filepath.Join(cache, "meet.test")); p < 2 {
		t.Errorf("cached meet.test has %d PEM blocks, want key and chain", p)
	}
}

func pemCount(t *testing.T, file string) int {
	b, err := os.ReadFile(file)
	if err != nil {
		t.Error(err)
		return 0
	}
	n := 0
	for {
		var blk *pem.Block
		if blk, b = pem.Decode(b); blk == nil {
			return n
		}
		n++
	}
}

// waitRunning waits for the JSON "meet is running" line and returns its
// string fields.
func waitRunning(t *testing.T, stderr *logbuf.Buffer) map[string]string {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		sc := bufio.NewScanner(strings.NewReader(stderr.String()))
		for sc.Scan() {
			var m map[string]any
			if json.Unmarshal(sc.Bytes(), &m) == nil && m["msg"] == "meet is running" {
				out := map[string]string{}
				for k, v := range m {
					if s, ok := v.(string); ok {
						out[k] = s
					}
				}
				return out
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("not running after 10 s:\n%s", stderr.String())
	return nil
}

// TestBindProblem: a port that is taken (or needs privileges) gives one
// line naming the flag that moves it, whichever part of the server opened
// it.
func TestBindProblem(t *testing.T) {
	c, err := parseConfig([]string{"--udp-port", "7882", "--turn-udp-port", "3479", "--ice-tcp-port", "7881"}, env("MEET_SECRET", secret32), &bytes.Buffer{})
	if err != nil {
		t.Fatal(err)
	}
	inUse := func(network string, a net.Addr) error {
		return fmt.Errorf("sfu: open: %w", &net.OpError{Op: "listen", Net: network, Addr: a, Err: os.NewSyscallError("bind", syscall.EADDRINUSE)})
	}
	tests := []struct {
		name string
		err  error
		want string // "" = not a bind problem
	}{
		{"listen", &bindError{flag: "listen", err: inUse("tcp", &net.TCPAddr{Port: 8080})}, "--listen :8080: the port is taken"},
		{"media udp", inUse("udp4", &net.UDPAddr{Port: 7882}), "--udp-port 7882: the port is taken"},
		{"turn udp", fmt.Errorf("%w: %w", errors.New("server: bad configuration"), inUse("udp", &net.UDPAddr{Port: 3479})), "set --turn-udp-port (or MEET_TURN_UDP_PORT) to another port, or 0 to turn it off"},
		{"ice-tcp", inUse("tcp4", &net.TCPAddr{Port: 7881}), "--ice-tcp-port 7881"},
		{"metrics", &bindError{flag: "metrics-listen", err: inUse("tcp", &net.TCPAddr{Port: 9090})}, "or empty to turn metrics off"},
		{"privileged", &bindError{flag: "listen", err: os.NewSyscallError("bind", syscall.EACCES)}, "CAP_NET_BIND_SERVICE"},
		{"unknown port", inUse("udp", &net.UDPAddr{Port: 1}), ""},
		{"other error", errors.New("no secret"), ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			line, ok := bindProblem(tt.err, c)
			if ok != (tt.want != "") || !strings.Contains(line, tt.want) || strings.Contains(line, "\n") {
				t.Errorf("got %q, %v; want one line with %q", line, ok, tt.want)
			}
		})
	}
}

func TestOpenURL(t *testing.T) {
	tests := []struct {
		public, scheme, addr, want string
	}{
		{"", "http", "127.0.0.1:8080", "http://localhost:8080"},
		{"", "http", "[::]:8080", "http://localhost:8080"},
		{"", "https", "192.0.2.7:443", "https://192.0.2.7:443"},
		{"https://meet.example.com", "http", "127.0.0.1:8080", "https://meet.example.com"},
	}
	for _, tt := range tests {
		addr, _ := net.ResolveTCPAddr("tcp", tt.addr)
		if got := openURL(&config{PublicURL: tt.public}, tt.scheme, addr); got != tt.want {
			t.Errorf("%+v: got %s", tt, got)
		}
	}
}
