package main

import (
	"crypto/rand"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/monkeythorn/meet/auth"
	"github.com/monkeythorn/meet/billing"
)

// config is the parsed command line and environment.
type config struct {
	Listen          string
	UDPPort         int
	MediaIP         string
	PublicIP        string
	PublicURL       string
	Secret          []byte
	LogLevel        slog.Level
	LogFormat       string
	Dev             bool
	ShutdownTimeout time.Duration
	Billing         billing.Config // billing_flags.go
	Cluster         clusterFlags   // cluster_flags.go
	Ops             opsFlags       // ops_flags.go
}

// option is one flag with its environment variable and default. Keeping
// them in one table is what lets --help list every variable.
type option struct {
	name, env, def, usage string
}

func options() []option {
	return append([]option{
		{"listen", "MEET_LISTEN", ":8080", "HTTP listen address"},
		{"udp-port", "MEET_UDP_PORT", "7882", "the one UDP port for all media (0 picks a free port)"},
		{"media-ip", "MEET_MEDIA_IP", "", "address the media UDP port binds; empty = all interfaces"},
		{"public-ip", "MEET_PUBLIC_IP", "", "public IP advertised to browsers when behind 1:1 NAT"},
		{"public-url", "MEET_PUBLIC_URL", "", "public URL, e.g. https://meet.example.com; empty = taken from each request"},
		{"secret-file", "MEET_SECRET_FILE", "", "file holding the token secret (or set MEET_SECRET to the secret itself)"},
		{"log-level", "MEET_LOG_LEVEL", "info", "debug, info, warn or error"},
		{"log-format", "MEET_LOG_FORMAT", "text", "text or json (logs go to stderr only)"},
		{"shutdown-timeout", "MEET_SHUTDOWN_TIMEOUT", "10s", "how long a graceful shutdown may take"},
		{"dev", "MEET_DEV", "false", "development mode: generated in-memory secret, loopback candidates"},
	}, append(append(clusterOptions(), billingOptions()...), opsOptions()...)...)
}

// parseConfig reads flags, falling back to environment variables, falling
// back to defaults. Every problem is returned as one error line; flag.ErrHelp
// means --help was asked for (usage is then written to out).
func parseConfig(args []string, getenv func(string) string, out io.Writer) (*config, error) {
	fs := flag.NewFlagSet("meet", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	vals := map[string]*string{}
	for _, o := range options() {
		v := o.def
		if e := getenv(o.env); e != "" {
			v = e
		}
		vals[o.name] = fs.String(o.name, v, o.usage)
	}
	// --dev without a value: make the string flag behave like a bool.
	args = expandBoolFlag(expandBoolFlag(args, "dev"), "redis-fallback-local")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			usage(out)
		}
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected argument %q (see --help)", fs.Arg(0))
	}
	return buildConfig(vals, getenv)
}

// expandBoolFlag turns "--dev" into "--dev=true" so it needs no value.
func expandBoolFlag(args []string, name string) []string {
	out := make([]string, len(args))
	for i, a := range args {
		if a == "-"+name || a == "--"+name {
			a += "=true"
		}
		out[i] = a
	}
	return out
}

func buildConfig(v map[string]*string, getenv func(string) string) (*config, error) {
	c := &config{Listen: *v["listen"], MediaIP: *v["media-ip"], PublicIP: *v["public-ip"], PublicURL: *v["public-url"], LogFormat: *v["log-format"]}
	var err error
	if _, _, err := net.SplitHostPort(c.Listen); err != nil {
		return nil, fmt.Errorf("--listen %q: want host:port, e.g. :8080", c.Listen)
	}
	if c.UDPPort, err = strconv.Atoi(*v["udp-port"]); err != nil || c.UDPPort < 0 || c.UDPPort > 65535 {
		return nil, fmt.Errorf("--udp-port %q: want a port number 0-65535", *v["udp-port"])
	}
	for name, ip := range map[string]string{"--media-ip": c.MediaIP, "--public-ip": c.PublicIP} {
		if ip != "" && net.ParseIP(ip) == nil {
			return nil, fmt.Errorf("%s %q: not an IP address", name, ip)
		}
	}
	if err := c.LogLevel.UnmarshalText([]byte(*v["log-level"])); err != nil {
		return nil, fmt.Errorf("--log-level %q: want debug, info, warn or error", *v["log-level"])
	}
	if c.LogFormat != "text" && c.LogFormat != "json" {
		return nil, fmt.Errorf("--log-format %q: want text or json", c.LogFormat)
	}
	if c.ShutdownTimeout, err = time.ParseDuration(*v["shutdown-timeout"]); err != nil || c.ShutdownTimeout <= 0 {
		return nil, fmt.Errorf("--shutdown-timeout %q: want a positive duration such as 10s", *v["shutdown-timeout"])
	}
	if c.Dev, err = strconv.ParseBool(*v["dev"]); err != nil {
		return nil, fmt.Errorf("--dev %q: want true or false", *v["dev"])
	}
	if c.Secret, err = loadSecret(*v["secret-file"], getenv("MEET_SECRET"), c.Dev); err != nil {
		return nil, err
	}
	if c.Cluster, err = parseClusterFlags(v, c.Dev); err != nil {
		return nil, err
	}
	if c.Billing, err = parseBillingFlags(v); err != nil {
		return nil, err
	}
	if c.Ops, err = parseOpsFlags(v); err != nil {
		return nil, err
	}
	if c.PublicURL == "" && c.Ops.Domain != "" {
		c.PublicURL = "https://" + c.Ops.Domain
	}
	return c, nil
}

// loadSecret takes the secret from MEET_SECRET or a file (not both, so it is
// never unclear which one is in use), or generates one in dev mode.
func loadSecret(file, env string, dev bool) ([]byte, error) {
	var s []byte
	switch {
	case file != "" && env != "":
		return nil, errors.New("both MEET_SECRET and --secret-file are set; use one")
	case file != "":
		b, err := os.ReadFile(file)
		if err != nil {
			return nil, fmt.Errorf("--secret-file: %v", err)
		}
		s = []byte(strings.TrimSpace(string(b)))
	case env != "":
		s = []byte(strings.TrimSpace(env))
	case dev:
		s = make([]byte, 48)
		_, _ = rand.Read(s) // never fails since Go 1.24
		return s, nil
	default:
		return nil, errors.New("no secret: set MEET_SECRET or --secret-file (make one with `openssl rand -base64 48`), or run with --dev to try it locally")
	}
	if len(s) < auth.MinSecretLen {
		return nil, fmt.Errorf("the secret is %d bytes; it must be at least %d (make one with `openssl rand -base64 48`)", len(s), auth.MinSecretLen)
	}
	return s, nil
}

func usage(w io.Writer) {
	fmt.Fprintf(w, "Usage: meet [flags]\n\nMonkeyThorn Meet: end-to-end encrypted video meetings in one binary.\nEvery flag can also be set by its environment variable; a flag wins.\n\nFlags:\n")
	for _, o := range options() {
		def := o.def
		if def == "" {
			def = `""`
		}
		fmt.Fprintf(w, "  --%s\n        %s (env %s, default %s)\n", o.name, o.usage, o.env, def)
	}
	fmt.Fprintf(w, "\nThe secret itself may be given in MEET_SECRET instead of --secret-file.\n")
}

func newLogger(c *config, w io.Writer) *slog.Logger {
	opts := &slog.HandlerOptions{Level: c.LogLevel}
	if c.LogFormat == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}
