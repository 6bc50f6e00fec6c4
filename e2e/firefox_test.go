package e2e

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

const firefoxPath = "/usr/bin/firefox-esr"

// minFrames is how many video frames each side must decode of the other.
const minFrames = 30

// netnsSetup makes the test's own network namespace usable: loopback for the
// pages (http://127.0.0.1 is a secure context) and a veth pair whose address
// carries the media, because Firefox ignores loopback ICE candidates. The
// default route keeps Firefox's and Chromium's "which interface reaches the
// internet" probes on v0; nothing can leave the namespace, since v1 is only
// its own peer.
const netnsSetup = `set -e
ip link set lo up
ip link add v0 type veth peer name v1
ip addr add 10.99.0.1/24 dev v0
ip link set v0 up
ip link set v1 up
ip route add default dev v0
set +e
`

// crossResult is the RESULT line of e2e/firefox/crossbrowser.mjs.
type crossResult struct {
	OK       bool               `json:"ok"`
	Error    string             `json:"error"`
	Timings  map[string]float64 `json:"timings"`
	Firefox  crossSelf          `json:"firefox"`
	Chromium crossSelf          `json:"chromium"`
	Rounds   []crossRound       `json:"rounds"`
}

type crossSelf struct {
	Version    string `json:"version"`
	Path       string `json:"path"`
	E2EE       bool   `json:"e2ee"`
	SafetyCode string `json:"safetyCode"`
}

// crossRound is one join of the Chromium tab: with the room's key on a
// given E2EE path (Decoded set), or with another key (WrongKey, Saw set).
type crossRound struct {
	ChromiumPath    string      `json:"chromiumPath"`
	Path            string      `json:"path"`
	E2EE            bool        `json:"e2ee"`
	SafetyCode      string      `json:"safetyCode"`
	WrongKey        bool        `json:"wrongKey"`
	FirefoxDecoded  *crossStats `json:"firefoxDecoded"`
	ChromiumDecoded *crossStats `json:"chromiumDecoded"`
	FirefoxSaw      *crossStats `json:"firefoxSaw"`
	ChromiumSaw     *crossStats `json:"chromiumSaw"`
	Seconds         float64     `json:"seconds"`
}

// crossStats is what one tab's meetTest.stats() says of the other.
type crossStats struct {
	Name                 string `json:"name"`
	FramesDecoded        int    `json:"framesDecoded"`
	AudioPacketsReceived int    `json:"audioPacketsReceived"`
	VideoPacketsReceived int    `json:"videoPacketsReceived"`
	DecryptState         string `json:"decryptState"`
	Audio                *struct {
		Codec string `json:"codec"`
	} `json:"audio"`
}

// requireCrossBrowser fails the test when a tool of the Firefox test is
// missing, unless the developer opted out with MEET_SKIP_BROWSER=1.
func requireCrossBrowser(t *testing.T) {
	t.Helper()
	var missing []string
	for _, p := range []string{firefoxPath, chromiumPath} {
		if _, err := os.Stat(p); err != nil {
			missing = append(missing, p)
		}
	}
	for _, name := range []string{"node", "unshare", "ip", "go"} {
		if _, err := exec.LookPath(name); err != nil {
			missing = append(missing, name)
		}
	}
	if _, err := os.Stat("../node_modules/puppeteer-core/package.json"); err != nil {
		missing = append(missing, "node_modules/puppeteer-core (npm ci)")
	}
	if len(missing) == 0 {
		return
	}
	if os.Getenv("MEET_SKIP_BROWSER") == "1" {
		t.Skipf("MEET_SKIP_BROWSER=1 and missing %s", strings.Join(missing, ", "))
	}
	t.Fatalf("missing %s: run make test, it installs firefox-esr, chromium, iproute2 and the npm dev packages (or set MEET_SKIP_BROWSER=1)", strings.Join(missing, ", "))
}

// TestFirefoxChromiumE2EE runs e2e/firefox/crossbrowser.mjs against a meet
// binary built from this tree, all inside a network and PID namespace made
// for the test: a Firefox ESR tab (RTCRtpScriptTransform) and a Chromium tab
// (first its default path, then createEncodedStreams) must decode each
// other's encrypted video and audio with the same key, and decode nothing of
// each other with different keys.
func TestFirefoxChromiumE2EE(t *testing.T) {
	requireCrossBrowser(t)
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	meet := buildMeet(t, root, dir)

	args := []string{"e2e/firefox/crossbrowser.mjs", "--meet", meet, "--profiles", dir,
		"--frames", strconv.Itoa(minFrames), "--timeout", "60", "--deadline", "150"}
	shot := ""
	if d := screenshotDir(); d != "" {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
		shot, _ = filepath.Abs(filepath.Join(d, "firefox-call.png"))
		args = append(args, "--screenshot", shot)
	}
	out, res := runInNetns(t, root, args)
	t.Logf("crossbrowser.mjs output:\n%s", out)
	if res == nil {
		t.Fatal("no RESULT line from crossbrowser.mjs")
	}
	checkCrossResult(t, res)
	checkNoProcessLeft(t, dir)
	if shot != "" {
		if _, err := os.Stat(shot); err != nil {
			t.Errorf("screenshot: %v", err)
		}
	}
}

// buildMeet builds cmd/meet into dir, so the test runs this tree's server
// rather than whatever bin/meet happens to hold.
func buildMeet(t *testing.T, root, dir string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	bin := filepath.Join(dir, "meet")
	cmd := exec.CommandContext(ctx, "go", "build", "-o", bin, "./cmd/meet")
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build ./cmd/meet: %v\n%s", err, out)
	}
	return bin
}

// runInNetns runs node with args in fresh network, PID and mount namespaces
// and returns its output and parsed RESULT line. The PID namespace is the
// clean-up guarantee: when its first process ends, or unshare is killed
// (--kill-child), the kernel kills every browser and server inside.
func runInNetns(t *testing.T, root string, args []string) (string, *crossResult) {
	t.Helper()
	// The script's own deadline is 150 s; this one only catches a hang of
	// the script itself.
	ctx, cancel := context.WithTimeout(context.Background(), 180*time.Second)
	defer cancel()
	ns := []string{"--kill-child", "--net", "--pid", "--fork", "--mount-proc"}
	if os.Geteuid() != 0 {
		// Unprivileged: a user namespace gives the rights to add the veth.
		ns = append(ns, "--map-root-user")
	}
	// bash stays the namespace's first process (no exec of node), so the
	// orphans browsers leave behind are reaped while the script runs.
	script := netnsSetup + `node "$@"; exit $?`
	full := append(append(ns, "bash", "-c", script, "bash"), args...)
	cmd := exec.CommandContext(ctx, "unshare", full...)
	cmd.Dir = root
	var buf bytes.Buffer
	cmd.Stdout = &buf
	cmd.Stderr = &buf
	cmd.WaitDelay = 10 * time.Second
	start := time.Now()
	err := cmd.Run()
	elapsed := time.Since(start)
	out := buf.String()
	res := parseCrossResult(out)
	if err != nil {
		reason := "see output"
		if res != nil && res.Error != "" {
			reason = res.Error
		}
		t.Fatalf("crossbrowser.mjs failed after %v: %v: %s\n%s", elapsed.Round(time.Millisecond), err, reason, out)
	}
	t.Logf("crossbrowser.mjs took %v", elapsed.Round(time.Millisecond))
	return out, res
}

func parseCrossResult(out string) *crossResult {
	sc := bufio.NewScanner(strings.NewReader(out))
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	var res *crossResult
	for sc.Scan() {
		line, ok := strings.CutPrefix(sc.Text(), "RESULT ")
		if !ok {
			continue
		}
		var r crossResult
		if json.Unmarshal([]byte(line), &r) == nil {
			res = &r
		}
	}
	return res
}

// checkCrossResult asserts on the numbers themselves rather than trusting
// the script's verdict alone.
func checkCrossResult(t *testing.T, r *crossResult) {
	t.Helper()
	if !r.OK {
		t.Errorf("script reports failure: %s", r.Error)
	}
	if v := browserMajor(r.Firefox.Version); v < 117 {
		t.Errorf("firefox version %q: want 117 or newer (RTCRtpScriptTransform)", r.Firefox.Version)
	}
	if !r.Firefox.E2EE || r.Firefox.Path != "script" {
		t.Errorf("firefox: e2ee=%v path=%q, want true and \"script\"", r.Firefox.E2EE, r.Firefox.Path)
	}
	var paths []string
	wrongKey := false
	for i, rd := range r.Rounds {
		if rd.WrongKey {
			wrongKey = true
			checkWrongKeyRound(t, i, rd)
			continue
		}
		paths = append(paths, rd.Path)
		checkKeyRound(t, i, rd, r.Firefox.SafetyCode)
	}
	if !strings.Contains(strings.Join(paths, ","), "streams") {
		t.Errorf("chromium paths %v: want a round on createEncodedStreams", paths)
	}
	if !wrongKey {
		t.Error("no wrong-key round")
	}
	t.Logf("firefox %s path %s; chromium %s paths %v; timings %v",
		r.Firefox.Version, r.Firefox.Path, r.Chromium.Version, paths, r.Timings)
}

func checkKeyRound(t *testing.T, i int, rd crossRound, safetyCode string) {
	t.Helper()
	if !rd.E2EE || (rd.ChromiumPath != "auto" && rd.Path != rd.ChromiumPath) {
		t.Errorf("round %d: chromium e2ee=%v path=%q, asked for %q", i, rd.E2EE, rd.Path, rd.ChromiumPath)
	}
	if rd.SafetyCode == "" || rd.SafetyCode != safetyCode {
		t.Errorf("round %d: safety codes differ: firefox %q, chromium %q", i, safetyCode, rd.SafetyCode)
	}
	for who, s := range map[string]*crossStats{"firefox": rd.FirefoxDecoded, "chromium": rd.ChromiumDecoded} {
		switch {
		case s == nil:
			t.Errorf("round %d: no stats from %s", i, who)
		case s.FramesDecoded <= minFrames || s.AudioPacketsReceived == 0 || s.DecryptState != "ok":
			t.Errorf("round %d: %s decoded %d frames, %d audio packets, decrypt %q: want >%d, >0, ok",
				i, who, s.FramesDecoded, s.AudioPacketsReceived, s.DecryptState, minFrames)
		case s.Audio == nil || s.Audio.Codec != "audio/opus":
			// Firefox has no Opus RED: it sends Opus, and the server hands
			// it the primary block of Chromium's RED as Opus, which it
			// decrypts (decrypt "ok" above).
			t.Errorf("round %d: %s hears the other as %+v, want audio/opus", i, who, s.Audio)
		}
	}
}

func checkWrongKeyRound(t *testing.T, i int, rd crossRound) {
	t.Helper()
	for who, s := range map[string]*crossStats{"firefox": rd.FirefoxSaw, "chromium": rd.ChromiumSaw} {
		switch {
		case s == nil:
			t.Errorf("wrong-key round %d: no stats from %s", i, who)
		case s.FramesDecoded != 0 || s.DecryptState != "failing" || s.AudioPacketsReceived == 0:
			t.Errorf("wrong-key round %d: %s decoded %d frames of %d video packets (%d audio), decrypt %q: want 0 frames, any video, >0 audio, failing",
				i, who, s.FramesDecoded, s.VideoPacketsReceived, s.AudioPacketsReceived, s.DecryptState)
		}
	}
}

// browserMajor reads 153 from "firefox/153.8.0"; 0 when it cannot.
func browserMajor(version string) int {
	_, v, _ := strings.Cut(version, "/")
	major, _, _ := strings.Cut(v, ".")
	n, _ := strconv.Atoi(major)
	return n
}

// checkNoProcessLeft fails when a process still runs whose command line
// names dir: the server binary and both browser profiles live there.
func checkNoProcessLeft(t *testing.T, dir string) {
	t.Helper()
	var left []string
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		left = processesNaming(dir)
		if len(left) == 0 || time.Now().After(deadline) {
			break
		}
	}
	if len(left) > 0 {
		t.Errorf("%d processes still running from the test's directory, e.g. %s", len(left), left[0])
	}
}

func processesNaming(dir string) []string {
	ents, _ := os.ReadDir("/proc")
	var out []string
	for _, e := range ents {
		if _, err := strconv.Atoi(e.Name()); err != nil {
			continue
		}
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err != nil || !bytes.Contains(b, []byte(dir)) {
			continue
		}
		out = append(out, fmt.Sprintf("pid %s: %s", e.Name(), bytes.ReplaceAll(b, []byte{0}, []byte{' '})))
	}
	return out
}
