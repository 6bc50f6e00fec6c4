package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"github.com/monkeythorn/meet/internal/leaktest"
	"github.com/monkeythorn/meet/internal/logbuf"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/monkeythorn/meet/sfu"
)

const secret32 = "0123456789abcdef0123456789abcdef"

func env(kv ...string) func(string) string {
	m := map[string]string{}
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i]] = kv[i+1]
	}
	return func(k string) string { return m[k] }
}

func TestParseConfig(t *testing.T) {
	dir := t.TempDir()
	secretFile := filepath.Join(dir, "secret")
	if err := os.WriteFile(secretFile, []byte(secret32+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	shortFile := filepath.Join(dir, "short")
	if err := os.WriteFile(shortFile, []byte("short"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		args    []string
		env     func(string) string
		check   func(t *testing.T, c *config)
		wantErr string // substring of the error; "" = success
	}{
		{"defaults need a secret", nil, env(), nil, "no secret"},
		{"defaults with secret", nil, env("MEET_SECRET", secret32), func(t *testing.T, c *config) {
			if c.Listen != ":8080" || c.UDPPort != 7882 || c.LogLevel != slog.LevelInfo || c.LogFormat != "text" || c.Dev ||
				c.ShutdownTimeout != 10*time.Second || string(c.Secret) != secret32 {
				t.Errorf("%+v", c)
			}
		}, ""},
		{"env", nil, env("MEET_SECRET", secret32, "MEET_LISTEN", "127.0.0.1:9000", "MEET_UDP_PORT", "5000",
			"MEET_PUBLIC_IP", "203.0.113.7", "MEET_LOG_LEVEL", "debug", "MEET_LOG_FORMAT", "json"), func(t *testing.T, c *config) {
			if c.Listen != "127.0.0.1:9000" || c.UDPPort != 5000 || c.PublicIP != "203.0.113.7" || c.LogLevel != slog.LevelDebug || c.LogFormat != "json" {
				t.Errorf("%+v", c)
			}
		}, ""},
		{"flag beats env", []string{"--listen", ":7000", "--udp-port=6000", "--log-level", "warn"},
			env("MEET_SECRET", secret32, "MEET_LISTEN", ":9000", "MEET_UDP_PORT", "5000", "MEET_LOG_LEVEL", "debug"), func(t *testing.T, c *config) {
				if c.Listen != ":7000" || c.UDPPort != 6000 || c.LogLevel != slog.LevelWarn {
					t.Errorf("%+v", c)
				}
			}, ""},
		{"dev generates a secret", []string{"--dev"}, env(), func(t *testing.T, c *config) {
			if !c.Dev || len(c.Secret) < 32 {
				t.Errorf("%+v", c)
			}
		}, ""},
		{"dev from env", nil, env("MEET_DEV", "1"), func(t *testing.T, c *config) {
			if !c.Dev {
				t.Error("MEET_DEV=1 ignored")
			}
		}, ""},
		{"dev binds loopback, no TURN or ICE-TCP, free side ports", []string{"--dev"}, env(), func(t *testing.T, c *config) {
			o := c.Ops
			if c.Listen != "127.0.0.1:8080" || c.MediaIP != "127.0.0.1" || c.UDPPort != 0 || o.MetricsListen != "127.0.0.1:0" ||
				o.TURNUDPPort != 0 || o.TURNTCPPort != 0 || o.TURNTLSPort != 0 || o.ICETCPPort != 0 {
				t.Errorf("%+v %+v", c, o)
			}
		}, ""},
		{"dev: what is asked for wins", []string{"--dev", "--listen", ":9000", "--turn-udp-port", "3478"},
			env("MEET_ICE_TCP_PORT", "7881", "MEET_MEDIA_IP", "10.0.0.2"), func(t *testing.T, c *config) {
				o := c.Ops
				if c.Listen != ":9000" || o.TURNUDPPort != 3478 || o.ICETCPPort != 7881 || c.MediaIP != "10.0.0.2" || o.TURNTCPPort != 0 {
					t.Errorf("%+v %+v", c, o)
				}
			}, ""},
		{"dev=false flag beats env", []string{"--dev=false"}, env("MEET_DEV", "true"), nil, "no secret"},
		{"secret file", []string{"--secret-file", secretFile}, env(), func(t *testing.T, c *config) {
			if string(c.Secret) != secret32 {
				t.Errorf("secret %q", c.Secret)
			}
		}, ""},
		{"secret file from env", nil, env("MEET_SECRET_FILE", secretFile), nil, ""},
		{"both secrets", []string{"--secret-file", secretFile}, env("MEET_SECRET", secret32), nil, "use one"},
		{"missing secret file", []string{"--secret-file", filepath.Join(dir, "nope")}, env(), nil, "--secret-file"},
		{"short secret file", []string{"--secret-file", shortFile}, env(), nil, "at least 32"},
		{"short env secret", nil, env("MEET_SECRET", "short"), nil, "at least 32"},
		{"bad udp port env", nil, env("MEET_SECRET", secret32, "MEET_UDP_PORT", "lots"), nil, "--udp-port"},
		{"udp port range", []string{"--udp-port", "70000"}, env("MEET_SECRET", secret32), nil, "--udp-port"},
		{"room cap", []string{"--max-participants", "500"}, env("MEET_SECRET", secret32), func(t *testing.T, c *config) {
			if c.MaxParticipants != 500 {
				t.Errorf("max participants %d, want 500", c.MaxParticipants)
			}
		}, ""},
		{"room cap default", nil, env("MEET_SECRET", secret32), func(t *testing.T, c *config) {
			if c.MaxParticipants != sfu.DefaultMaxParticipants {
				t.Errorf("max participants %d, want %d", c.MaxParticipants, sfu.DefaultMaxParticipants)
			}
		}, ""},
		{"room cap from env", nil, env("MEET_SECRET", secret32, "MEET_MAX_PARTICIPANTS", "1"), nil, "--max-participants"},
		{"room cap not a number", []string{"--max-participants", "lots"}, env("MEET_SECRET", secret32), nil, "--max-participants"},
		{"bad listen", []string{"--listen", "8080"}, env("MEET_SECRET", secret32), nil, "--listen"},
		{"bad public ip", []string{"--public-ip", "meet.example.com"}, env("MEET_SECRET", secret32), nil, "--public-ip"},
		{"bad log level", nil, env("MEET_SECRET", secret32, "MEET_LOG_LEVEL", "loud"), nil, "--log-level"},
		{"bad log format", []string{"--log-format", "xml"}, env("MEET_SECRET", secret32), nil, "--log-format"},
		{"bad shutdown timeout", []string{"--shutdown-timeout", "-1s"}, env("MEET_SECRET", secret32), nil, "--shutdown-timeout"},
		{"bad dev env", nil, env("MEET_DEV", "maybe"), nil, "--dev"},
		{"unknown flag", []string{"--colour"}, env("MEET_SECRET", secret32), nil, "colour"},
		{"stray argument", []string{"serve"}, env("MEET_SECRET", secret32), nil, "unexpected argument"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := parseConfig(tt.args, tt.env, &bytes.Buffer{})
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err %v, want one mentioning %q", err, tt.wantErr)
				}
				if strings.Contains(err.Error(), secret32) {
					t.Errorf("error shows the secret: %v", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if tt.check != nil {
				tt.check(t, c)
			}
		})
	}
}

func TestHelpListsEveryFlag(t *testing.T) {
	var out bytes.Buffer
	_, err := parseConfig([]string{"--help"}, env(), &out)
	if !errors.Is(err, flag.ErrHelp) {
		t.Fatalf("err %v", err)
	}
	for _, o := range options() {
		if !strings.Contains(out.String(), "--"+o.name+"\n") || !strings.Contains(out.String(), "env "+o.env+",") {
			t.Errorf("--help misses --%s or %s:\n%s", o.name, o.env, out.String())
		}
	}
	for _, want := range []string{"default :8080", "default 7882", "default info", "MEET_SECRET "} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("--help misses %q", want)
		}
	}
}

func TestRunExitCodes(t *testing.T) {
	leaktest.Check(t)
	var stdout, stderr bytes.Buffer
	if code := run(context.Background(), []string{"--help"}, env(), &stdout, &stderr); code != 0 || !strings.Contains(stdout.String(), "--udp-port") {
		t.Errorf("--help: exit %d, stdout %q", code, stdout.String())
	}
	// One "meet: " line per problem.
	for _, tt := range []struct {
		args  []string
		lines int
	}{{nil, 1}, {[]string{"--udp-port", "x"}, 2}, {[]string{"--log-level", "loud", "--dev"}, 1}, {[]string{"config"}, 1}, {[]string{"config", "lint"}, 1}} {
		stderr.Reset()
		code := run(context.Background(), tt.args, env(), &stdout, &stderr)
		lines := strings.Split(strings.TrimSpace(stderr.String()), "\n")
		if code != 2 || len(lines) != tt.lines {
			t.Errorf("%v: exit %d, stderr %q; want 2 and %d lines", tt.args, code, stderr.String(), tt.lines)
		}
		for _, l := range lines {
			if !strings.HasPrefix(l, "meet: ") {
				t.Errorf("%v: line %q lacks the meet: prefix", tt.args, l)
			}
		}
	}
}

// TestRunDevAndShutdown starts the whole server on loopback ports in dev mode
// and cancels it, as SIGINT would.
func TestRunDevAndShutdown(t *testing.T) {
	leaktest.Check(t)
	var stdout, stderr logbuf.Buffer
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan int, 1)
	go func() {
		done <- run(ctx, append([]string{"--dev", "--listen", "127.0.0.1:0", "--udp-port", "0", "--media-ip", "127.0.0.1"}, noFixedPorts...), env(), &stdout, &stderr)
	}()
	deadline := time.Now().Add(5 * time.Second)
	for !strings.Contains(stderr.String(), "meet is running") {
		if time.Now().After(deadline) {
			cancel()
			t.Fatalf("not running after 5 s:\n%s", stderr.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
	cancel()
	select {
	case code := <-done:
		if code != 0 {
			t.Errorf("exit %d:\n%s", code, stderr.String())
		}
	case <-time.After(15 * time.Second):
		t.Fatal("no exit 15 s after the shutdown signal")
	}
	if !strings.Contains(stderr.String(), "DEVELOPMENT MODE") || !strings.Contains(stderr.String(), "stopped") {
		t.Errorf("stderr:\n%s", stderr.String())
	}
}
