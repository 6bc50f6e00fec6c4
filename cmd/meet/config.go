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
	"github.com/monkeythorn/meet/sfu"
)

// maxRoomCap bounds --max-participants: every participant of a room
// subscribes to every other, so the work of a room grows with its square.
const maxRoomCap = 10000

// config is the parsed command line and environment.
type config struct {
	Listen          string
	UDPPort         int
	MaxParticipants int
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
	Limits          limitFlags     // limit_flags.go
	// Settings is every key's raw value and where it came from, in
	// options() order, for the summary of `meet config check`.
	Settings []setting
}

// setting is one key's value and its source: "default", "file", "env" or
// "flag" (precedence rises in that order).
type setting struct {
	Name, Value, Source string
}

// option is one flag with its environment variable and default. Keeping
// them in one table is what lets --help list every variable.
type option struct {
	name, env, def, usage string
}

func options() []option {
	return append([]option{
		{"config", "MEET_CONFIG", "", "YAML file of settings, keys as the flag names (docs/config.md); flags and env vars override it"},
		{"listen", "MEET_LISTEN", ":8080", "HTTP listen address"},
		{"udp-port", "MEET_UDP_PORT", "7882", "the one UDP port for all media (0 picks a free port)"},
		{"media-ip", "MEET_MEDIA_IP", "", "address the media UDP port binds; empty = all interfaces"},
		{"max-participants", "MEET_MAX_PARTICIPANTS", strconv.Itoa(sfu.DefaultMaxParticipants), "most participants in one room (a plan may allow fewer); a 2-core server forwards one publisher to 500 (docs/benchmarks.md)"},
		{"public-ip", "MEET_PUBLIC_IP", "", "public IP advertised to browsers when behind 1:1 NAT"},
		{"public-url", "MEET_PUBLIC_URL", "", "public URL, e.g. https://meet.example.com; empty = taken from each request"},
		{"secret-file", "MEET_SECRET_FILE", "", "file holding the token secret (or set MEET_SECRET to the secret itself)"},
		{"log-level", "MEET_LOG_LEVEL", "info", "debug, info, warn or error"},
		{"log-format", "MEET_LOG_FORMAT", "text", "text or json (logs go to stderr only)"},
		{"shutdown-timeout", "MEET_SHUTDOWN_TIMEOUT", "10s", "how long a graceful shutdown may take"},
		{"dev", "MEET_DEV", "false", "development mode: generated in-memory secret; everything on loopback, free side ports, no TURN (docs/config.md)"},
	}, append(append(append(clusterOptions(), billingOptions()...), opsOptions()...), limitOptions()...)...)
}

// parseConfig reads flags, falling back to environment variables, then to
// the config file, then to defaults. Every problem is returned, joined one
// per line; flag.ErrHelp means --help was asked for (usage is then written
// to out).
func parseConfig(args []string, getenv func(string) string, out io.Writer) (*config, error) {
	var file map[string]string
	var fileErr error
	if path := configPath(args, getenv); path != "" {
		file, fileErr = readConfigFile(path)
	}
	fs := flag.NewFlagSet("meet", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	vals := map[string]*string{}
	src := map[string]string{}
	for _, o := range options() {
		v, s := o.def, "default"
		if f, ok := file[o.name]; ok {
			v, s = f, "file"
		}
		if e := getenv(o.env); e != "" {
			v, s = e, "env"
		}
		vals[o.name], src[o.name] = fs.String(o.name, v, o.usage), s
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
	if fileErr != nil {
		// The file's problems come first; the rest is still checked so
		// that one run shows everything, but with a broken file it would
		// mostly be noise about missing values.
		return nil, fileErr
	}
	fs.Visit(func(f *flag.Flag) { src[f.Name] = "flag" })
	applyDevDefaults(vals, src)
	secret, secretSrc := file["secret"], "file"
	if e := getenv("MEET_SECRET"); e != "" {
		secret, secretSrc = e, "env"
	}
	if secret == "" {
		secretSrc = "default"
	}
	c, err := buildConfig(vals, secret)
	if err != nil {
		return nil, err
	}
	for _, o := range append(options(), secretOption()) {
		st := setting{Name: o.name, Source: src[o.name]}
		if o.name == "secret" {
			st.Value, st.Source = secret, secretSrc
		} else {
			st.Value = *vals[o.name]
		}
		c.Settings = append(c.Settings, st)
	}
	return c, nil
}

// devDefaults are the defaults that --dev changes: a development server is
// for this machine only, so it binds loopback, takes free ports for what no
// one types in (media, metrics), and leaves off what only a public server
// needs (TURN, ICE-TCP). Two `meet --dev` on one host then differ in
// --listen alone. A value set by flag, environment or file still wins.
func devDefaults() map[string]string {
	return map[string]string{
		"listen":         "127.0.0.1:8080",
		"http-listen":    "127.0.0.1:80",
		"udp-port":       "0",
		"media-ip":       "127.0.0.1",
		"metrics-listen": "127.0.0.1:0",
		"turn-udp-port":  "0",
		"turn-tcp-port":  "0",
		"turn-tls-port":  "0",
		"ice-tcp-port":   "0",
	}
}

// applyDevDefaults puts the --dev defaults in place of the plain ones for
// every key nobody set. A --dev value that does not parse is left for
// buildConfig to report.
func applyDevDefaults(vals map[string]*string, src map[string]string) {
	if dev, err := strconv.ParseBool(*vals["dev"]); err != nil || !dev {
		return
	}
	for name, v := range devDefaults() {
		if src[name] == "default" {
			*vals[name], src[name] = v, "dev default"
		}
	}
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

// buildConfig checks every value and collects every problem, so that
// `meet config check` can list them all at once.
func buildConfig(v map[string]*string, secret string) (*config, error) {
	c := &config{Listen: *v["listen"], MediaIP: *v["media-ip"], PublicIP: *v["public-ip"], PublicURL: *v["public-url"], LogFormat: *v["log-format"]}
	var errs []error
	bad := func(format string, a ...any) { errs = append(errs, fmt.Errorf(format, a...)) }
	var err error
	if _, _, err := net.SplitHostPort(c.Listen); err != nil {
		bad("--listen %q: want host:port, e.g. :8080", c.Listen)
	}
	if c.UDPPort, err = strconv.Atoi(*v["udp-port"]); err != nil || c.UDPPort < 0 || c.UDPPort > 65535 {
		bad("--udp-port %q: want a port number 0-65535", *v["udp-port"])
	}
	if c.MaxParticipants, err = strconv.Atoi(*v["max-participants"]); err != nil || c.MaxParticipants < 2 || c.MaxParticipants > maxRoomCap {
		bad("--max-participants %q: want a number from 2 to %d", *v["max-participants"], maxRoomCap)
	}
	for _, ip := range []struct{ name, val string }{{"--media-ip", c.MediaIP}, {"--public-ip", c.PublicIP}} {
		if ip.val != "" && net.ParseIP(ip.val) == nil {
			bad("%s %q: not an IP address", ip.name, ip.val)
		}
	}
	if err := c.LogLevel.UnmarshalText([]byte(*v["log-level"])); err != nil {
		bad("--log-level %q: want debug, info, warn or error", *v["log-level"])
	}
	if c.LogFormat != "text" && c.LogFormat != "json" {
		bad("--log-format %q: want text or json", c.LogFormat)
	}
	if c.ShutdownTimeout, err = time.ParseDuration(*v["shutdown-timeout"]); err != nil || c.ShutdownTimeout <= 0 {
		bad("--shutdown-timeout %q: want a positive duration such as 10s", *v["shutdown-timeout"])
	}
	if c.Dev, err = strconv.ParseBool(*v["dev"]); err != nil {
		bad("--dev %q: want true or false", *v["dev"])
	}
	if c.Secret, err = loadSecret(*v["secret-file"], secret, c.Dev); err != nil {
		errs = append(errs, err)
	}
	// Only a generated secret rules out a cluster: --dev nodes given one
	// shared secret can try multi-node mode on one machine.
	generated := c.Dev && secret == "" && *v["secret-file"] == ""
	if c.Cluster, err = parseClusterFlags(v, generated); err != nil {
		errs = append(errs, err)
	}
	if c.Billing, err = parseBillingFlags(v); err != nil {
		errs = append(errs, err)
	}
	if c.Ops, err = parseOpsFlags(v); err != nil {
		errs = append(errs, err)
	}
	if c.Limits, err = parseLimitFlags(v); err != nil {
		errs = append(errs, err)
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	if c.PublicURL == "" && c.Ops.Domain != "" {
		c.PublicURL = "https://" + c.Ops.Domain
	}
	return c, nil
}

// loadSecret takes the secret from MEET_SECRET (or the config file's
// secret key) or a file (not both, so it is
// never unclear which one is in use), or generates one in dev mode.
func loadSecret(file, env string, dev bool) ([]byte, error) {
	var s []byte
	switch {
	case file != "" && env != "":
		return nil, errors.New("both the secret (MEET_SECRET or the config file's secret key) and --secret-file are set; use one")
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
		return nil, errors.New("no secret: set MEET_SECRET, --secret-file or the config file's secret key (make one with `openssl rand -base64 48`), or run with --dev to try it locally")
	}
	if len(s) < auth.MinSecretLen {
		return nil, fmt.Errorf("the secret is %d bytes; it must be at least %d (make one with `openssl rand -base64 48`)", len(s), auth.MinSecretLen)
	}
	return s, nil
}

func usage(w io.Writer) {
	fmt.Fprintf(w, "Usage: meet [flags]\n\nMonkeyThorn Meet: end-to-end encrypted video meetings in one binary.\nEvery flag can also be set by its environment variable or, without the\nleading --, as a key in the --config file (docs/config.md).\nA flag wins over the environment, which wins over the file.\n\nFlags:\n")
	dev := devDefaults()
	for _, o := range options() {
		def := o.def
		if def == "" {
			def = `""`
		}
		if d, ok := dev[o.name]; ok {
			def += ", with --dev " + d
		}
		fmt.Fprintf(w, "  --%s\n        %s (env %s, default %s)\n", o.name, o.usage, o.env, def)
	}
	fmt.Fprintf(w, "\nThe secret itself may be given in MEET_SECRET (or the file's secret key) instead of --secret-file.\n\nCheck a configuration without starting: meet config check [--config FILE] [flags]\n\nTry it on this machine: meet --dev, then open the URL it prints (http://localhost:8080).\nA second one beside it needs only another --listen, e.g. meet --dev --listen 127.0.0.1:8081.\n")
}

func newLogger(c *config, w io.Writer) *slog.Logger {
	opts := &slog.HandlerOptions{Level: c.LogLevel}
	if c.LogFormat == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}
