package main

import (
	"bytes"
	"context"
	"github.com/monkeythorn/meet/internal/leaktest"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func writeFile(t *testing.T, name, text string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestConfigPrecedence: flag > env > file > default, for each source.
func TestConfigPrecedence(t *testing.T) {
	file := writeFile(t, "meet.yaml", "secret: "+secret32+"\nlisten: \":1001\"\nudp-port: 1002\nlog-level: warn\nlog-format: json\n")
	tests := []struct {
		name   string
		args   []string
		env    func(string) string
		listen string
		udp    int
		level  string
		format string
		srcs   map[string]string
	}{
		{"file over default", []string{"--config", file}, env(), ":1001", 1002, "WARN", "json",
			map[string]string{"listen": "file", "udp-port": "file", "shutdown-timeout": "default", "secret": "file"}},
		{"env over file", []string{"--config=" + file}, env("MEET_LISTEN", ":2001", "MEET_LOG_LEVEL", "debug"), ":2001", 1002, "DEBUG", "json",
			map[string]string{"listen": "env", "log-level": "env", "udp-port": "file"}},
		{"flag over env over file", []string{"-config", file, "--listen", ":3001", "--udp-port=3002"}, env("MEET_LISTEN", ":2001", "MEET_UDP_PORT", "2002"), ":3001", 3002, "WARN", "json",
			map[string]string{"listen": "flag", "udp-port": "flag", "log-format": "file"}},
		{"MEET_CONFIG names the file", nil, env("MEET_CONFIG", file), ":1001", 1002, "WARN", "json",
			map[string]string{"config": "env", "listen": "file"}},
		{"--config beats MEET_CONFIG", []string{"--config", file}, env("MEET_CONFIG", "/nonexistent.yaml"), ":1001", 1002, "WARN", "json", nil},
		{"env secret over file secret", []string{"--config", file}, env("MEET_SECRET", strings.Repeat("z", 32)), ":1001", 1002, "WARN", "json",
			map[string]string{"secret": "env"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := parseConfig(tt.args, tt.env, &bytes.Buffer{})
			if err != nil {
				t.Fatal(err)
			}
			if c.Listen != tt.listen || c.UDPPort != tt.udp || c.LogLevel.String() != tt.level || c.LogFormat != tt.format {
				t.Errorf("got %s %d %s %s, want %s %d %s %s", c.Listen, c.UDPPort, c.LogLevel, c.LogFormat, tt.listen, tt.udp, tt.level, tt.format)
			}
			got := map[string]string{}
			for _, s := range c.Settings {
				got[s.Name] = s.Source
			}
			for k, want := range tt.srcs {
				if got[k] != want {
					t.Errorf("source of %s = %q, want %q", k, got[k], want)
				}
			}
			if src := got["secret"]; src == "env" && string(c.Secret) != strings.Repeat("z", 32) || src == "file" && string(c.Secret) != secret32 {
				t.Errorf("secret from %s is %q", src, c.Secret)
			}
		})
	}
}

// TestConfigFileErrors: each bad file is refused with the key and line.
func TestConfigFileErrors(t *testing.T) {
	tests := []struct {
		name string
		text string
		want []string // substrings, each on its own error line
	}{
		{"unknown key", "listen: \":1\"\nlistn: \":2\"\n", []string{`:2: unknown key "listn"`}},
		{"two unknown keys", "colour: red\ndev: true\nsize: 3\n", []string{`:1: unknown key "colour"`, `:3: unknown key "size"`}},
		{"list value", "udp-port:\n  - 1\n  - 2\n", []string{`:1: key "udp-port": want a single value`}},
		{"map value", "listen:\n  host: a\n", []string{`:1: key "listen": want a single value`}},
		{"duplicate", "listen: \":1\"\nlisten: \":2\"\n", []string{`:2: key "listen" is set twice`}},
		{"config in file", "config: other.yaml\n", []string{`:1: key "config" cannot be set`}},
		{"not a mapping", "- listen\n- dev\n", []string{":1: want key: value pairs"}},
		{"bad yaml", "listen: [\n", []string{"meet.yaml"}},
		{"tabs", "listen: a\n\tdev: true\n", []string{"meet.yaml"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := parseConfigFile("meet.yaml", []byte(tt.text))
			if err == nil {
				t.Fatal("accepted")
			}
			lines := strings.Split(err.Error(), "\n")
			if len(lines) != len(tt.want) {
				t.Errorf("%d error lines, want %d: %v", len(lines), len(tt.want), err)
			}
			for i, w := range tt.want {
				if i < len(lines) && !strings.Contains(lines[i], w) {
					t.Errorf("line %d %q lacks %q", i, lines[i], w)
				}
			}
		})
	}
}

// TestConfigFileValues: the accepted forms, and wrong types caught by the
// same checks as flags.
func TestConfigFileValues(t *testing.T) {
	tests := []struct {
		name, text string
		check      func(c *config) bool
		wantErr    string
	}{
		{"empty file", "", func(c *config) bool { return c.Listen == ":8080" }, ""},
		{"only comments", "# nothing\n", func(c *config) bool { return c.UDPPort == 7882 }, ""},
		{"null value is unset", "public-url:\n", func(c *config) bool { return c.PublicURL == "" }, ""},
		{"bool and duration", "drain-timeout: 1m\nturn-udp-port: 0\n", func(c *config) bool { return c.Ops.DrainTimeout.Seconds() == 60 && c.Ops.TURNUDPPort == 0 }, ""},
		{"port as text", "udp-port: many\n", nil, `--udp-port "many"`},
		{"bool as text", "dev: maybe\n", nil, `--dev "maybe"`},
		{"duration as number", "drain-timeout: 30\n", nil, "--drain-timeout"},
		{"secret too short", "secret: short\n", nil, "at least 32"},
		{"secret and secret-file", "secret-file: /x\n", nil, "use one"},
		{"plans as a list", "stripe-key: sk_test_x\nplans:\n  - id: pro\n    price_id: price_1\n", func(c *config) bool {
			for _, p := range c.Billing.Plans {
				if p.ID == "pro" {
					return p.PriceID == "price_1"
				}
			}
			return false
		}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			file := writeFile(t, "meet.yaml", tt.text)
			c, err := parseConfig([]string{"--config", file}, env("MEET_SECRET", secret32), &bytes.Buffer{})
			if tt.name == "secret too short" {
				c, err = parseConfig([]string{"--config", file}, env(), &bytes.Buffer{})
			}
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !tt.check(c) {
				t.Errorf("%+v", c)
			}
		})
	}
}

func TestConfigFileMissing(t *testing.T) {
	_, err := parseConfig([]string{"--config", filepath.Join(t.TempDir(), "none.yaml")}, env("MEET_SECRET", secret32), nil)
	if err == nil || !strings.Contains(err.Error(), "--config") || !strings.Contains(err.Error(), "none.yaml") {
		t.Errorf("err %v", err)
	}
}

// TestDeployExampleParses keeps deploy/meet.yaml in step with the keys.
func TestDeployExampleParses(t *testing.T) {
	vals, err := readConfigFile("../../deploy/meet.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if vals["domain"] != "meet.example.com" || vals["udp-port"] != "7882" {
		t.Errorf("%v", vals)
	}
}

// TestConfigCheck runs `meet config check` through run: exit codes, the
// summary, and that no secret is printed.
func TestConfigCheck(t *testing.T) {
	leaktest.Check(t)
	stripeKey, redisPass := "sk_test_supersecretkey", "redispassw0rd"
	good := writeFile(t, "good.yaml", "secret: "+secret32+"\nlisten: 127.0.0.1:8443\nstripe-key: "+stripeKey+"\nstripe-webhook-secret: whsec_abc\n")
	bad := writeFile(t, "bad.yaml", "listen: 8080\nudp-port: 70000\nlistn: x\n")
	badValues := writeFile(t, "badv.yaml", "listen: 8080\nudp-port: 70000\nlog-format: xml\n")
	tests := []struct {
		name      string
		args      []string
		env       func(string) string
		code      int
		stdout    []string
		errLines  int
		errSubstr []string
	}{
		{"ok from file", []string{"config", "check", "--config", good}, env(), 0,
			[]string{"configuration OK", "127.0.0.1:8443", "(file)", "stripe-key", "(set)"}, 0, nil},
		{"ok flags override", []string{"config", "check", "--config", good, "--udp-port", "9000"}, env("MEET_REDIS_URL", ""), 0,
			[]string{"configuration OK", "9000", "(flag)"}, 0, nil},
		{"ok env secret", []string{"config", "check"}, env("MEET_SECRET", secret32, "MEET_REDIS_URL", "redis://u:"+redisPass+"@127.0.0.1:1", "MEET_NODE_URL", "https://n1.example.com"), 0,
			[]string{"configuration OK", "secret", "(env)", "redis"}, 0, nil},
		{"unknown key", []string{"config", "check", "--config", bad}, env(), 2, nil, 1, []string{`bad.yaml:3: unknown key "listn"`}},
		{"one line per problem", []string{"config", "check", "--config", badValues}, env(), 2, nil, 4,
			[]string{"--listen", "--udp-port", "--log-format", "no secret"}},
		{"missing tls files", []string{"config", "check", "--tls-cert", "/nonexistent/c.pem", "--tls-key", "/nonexistent/k.pem"}, env("MEET_SECRET", secret32), 2, nil, 1, []string{"c.pem"}},
		{"bad flag", []string{"config", "check", "--udp-port", "x"}, env("MEET_SECRET", secret32), 2, nil, 1, []string{"--udp-port"}},
		{"help", []string{"config", "check", "--help"}, env(), 0, []string{"--config", "config check"}, 0, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := run(context.Background(), tt.args, tt.env, &stdout, &stderr)
			if code != tt.code {
				t.Fatalf("exit %d, want %d\nstdout %s\nstderr %s", code, tt.code, stdout.String(), stderr.String())
			}
			for _, w := range tt.stdout {
				if !strings.Contains(stdout.String(), w) {
					t.Errorf("stdout lacks %q:\n%s", w, stdout.String())
				}
			}
			if tt.code != 0 {
				lines := strings.Split(strings.TrimSpace(stderr.String()), "\n")
				if len(lines) != tt.errLines {
					t.Errorf("%d stderr lines, want %d:\n%s", len(lines), tt.errLines, stderr.String())
				}
				for i, w := range tt.errSubstr {
					if i < len(lines) && (!strings.HasPrefix(lines[i], "meet: ") || !strings.Contains(lines[i], w)) {
						t.Errorf("line %d %q lacks %q", i, lines[i], w)
					}
				}
			}
			for _, s := range []string{secret32, stripeKey, redisPass, "whsec_abc"} {
				if strings.Contains(stdout.String()+stderr.String(), s) {
					t.Errorf("output shows a secret %q:\n%s%s", s, stdout.String(), stderr.String())
				}
			}
		})
	}
}
