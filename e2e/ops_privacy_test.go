package e2e

import (
	"context"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestOpsNoDiskWritesAndNoIdentityInLogs is a whole browser call (names,
// chat, E2EE) against the real binary running under strace at debug log
// level, then:
//
//   - no disk writes: strace saw no file created, opened for writing,
//     truncated, renamed, linked, chmod'ed or removed, and no directory
//     made (the certificate cache is the one allowed place, and it is not
//     in use here); /dev, /proc and /sys are not files on disk;
//   - no identity in logs or metrics: the display names, chat text, room
//     key, a join token and the room code appear nowhere in the log (debug
//     includes every info line) or in /metrics, and lines at info level
//     or above carry no client address.
func TestOpsNoDiskWritesAndNoIdentityInLogs(t *testing.T) {
	requireBrowser(t)
	if _, err := os.Stat("/usr/bin/strace"); err != nil {
		t.Fatalf("strace missing (%v): make test installs it", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	defer cancel()
	bin := opsBinary(t)
	trace := filepath.Join(t.TempDir(), "strace.txt")
	// --seccomp-bpf stops the server only at the traced calls, not at
	// every send and receive of the media path.
	strace := []string{"strace", "-f", "-qq", "--seccomp-bpf", "-o", trace, "-e",
		"trace=%file,ftruncate,fchmod"}
	p := startMeet(t, strace, bin, append(opsArgs, "--log-level", "debug", "--drain-timeout", "5s")...)
	srv := &testServer{URL: p.URL()}

	code := newRoom(t, srv)
	key := newKey(t)
	names := []string{"Quintessa Vormund", "Bartholomew Zyx"}
	chat := "the-secret-plan-" + newKey(t)
	b := newBrowser(t, ctx)
	ann := join(t, b, names[0], joinURL(srv, code, names[0], key, ""))
	bob := join(t, b, names[1], joinURL(srv, code, names[1], key, ""))
	ann.decodes(t, bob, 20, 30*time.Second)
	bob.decodes(t, ann, 20, 30*time.Second)
	ann.chat(t, chat)
	bob.waitFor(t, "the chat message", `meetTest.messages().some(m => m.text === `+jsString(chat)+` && m.readable)`, 10*time.Second)
	// A participant whose token the test knows (browsers keep theirs).
	extra := joinWS(t, p.URL(), code, "")

	metrics := get(t, "http://"+p.running["metrics"]+"/metrics")
	if !strings.Contains(metrics, "meet_participants 3") || !strings.Contains(metrics, "go_goroutines") {
		t.Errorf("metrics during the call lack the participants or runtime metrics:\n%.2000s", metrics)
	}
	extra.leave()
	p.signal(t, syscall.SIGTERM)
	if code := p.wait(t, 20*time.Second); code != 0 {
		t.Errorf("exit %d", code)
	}

	secrets := map[string]string{"name " + names[0]: names[0], "name " + names[1]: names[1], "chat text": chat,
		"room key": key, "token": extra.token, "room code": code}
	logs := p.logs.String()
	if !strings.Contains(logs, `"level":"DEBUG"`) {
		t.Fatal("no debug lines: the test would prove nothing")
	}
	for what, s := range secrets {
		if strings.Contains(logs, s) {
			t.Errorf("the log contains the %s", what)
		}
		if strings.Contains(metrics, s) {
			t.Errorf("/metrics contains the %s", what)
		}
	}
	checkNoClientAddrAtInfo(t, p)
	checkNoFileWrites(t, trace, nil)
}

// checkNoClientAddrAtInfo: lines at info level and above name no address
// but the server's own listeners.
func checkNoClientAddrAtInfo(t *testing.T, p *meetProc) {
	t.Helper()
	own := map[string]bool{}
	for _, v := range p.running {
		own[v] = true
	}
	addr := regexp.MustCompile(`\b\d{1,3}(\.\d{1,3}){3}:\d+\b|\[[0-9a-fA-F:]+\]:\d+`)
	for _, m := range p.lines() {
		if m["level"] == "DEBUG" {
			continue
		}
		line, _ := jsonLine(m)
		for _, a := range addr.FindAllString(line, -1) {
			if !own[a] {
				t.Errorf("%s line names address %s: %s", m["level"], a, line)
			}
		}
	}
}

// writeSyscalls are the file-system calls that change something on disk.
var writeSyscalls = regexp.MustCompile(`^(?:\d+ +)?(creat|unlink|unlinkat|rename|renameat|renameat2|mkdir|mkdirat|rmdir|truncate|ftruncate|link|linkat|symlink|symlinkat|chmod|fchmod|fchmodat|mknod|mknodat)\(`)

var openCall = regexp.MustCompile(`^(?:\d+ +)?(open|openat|openat2)\((?:AT_FDCWD|\d+)?,? ?"([^"]*)", ([A-Z_|]+)`)

// checkNoFileWrites reads an strace log and fails for every call that
// writes to the file system outside /dev, /proc, /sys and allowed.
func checkNoFileWrites(t *testing.T, trace string, allowed []string) {
	t.Helper()
	b, err := os.ReadFile(trace)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), "execve(") {
		t.Fatal("strace log has no execve: the check would prove nothing")
	}
	bad, opens := fileWrites(string(b), allowed)
	if opens == 0 {
		t.Error("strace saw no open at all: the filter is wrong, the check would prove nothing")
	}
	for _, l := range bad {
		t.Errorf("written to disk: %s", l)
	}
	t.Logf("strace: %d opens checked, %d writes", opens, len(bad))
}

var quoted = regexp.MustCompile(`"([^"]*)"`)

// fileWrites returns the strace lines that change the file system outside
// the allowed prefixes, and how many opens it looked at.
func fileWrites(log string, allowed []string) (bad []string, opens int) {
	ok := func(path string) bool {
		for _, p := range append([]string{"/dev/", "/proc/", "/sys/"}, allowed...) {
			if strings.HasPrefix(path, p) {
				return true
			}
		}
		return false
	}
	for _, l := range strings.Split(log, "\n") {
		if m := openCall.FindStringSubmatch(l); m != nil {
			opens++
			if flags := m[3]; regexp.MustCompile(`O_WRONLY|O_RDWR|O_CREAT|O_TRUNC`).MatchString(flags) && !ok(m[2]) {
				bad = append(bad, l)
			}
			continue
		}
		if writeSyscalls.MatchString(l) {
			// Calls on a descriptor (ftruncate, fchmod) have no path: a
			// descriptor of ours that is a file was opened, and caught,
			// above; still report them, as they should not happen at all.
			if q := quoted.FindStringSubmatch(l); q == nil || !ok(q[1]) {
				bad = append(bad, l)
			}
		}
	}
	return bad, opens
}

// TestFileWritesFilter: the strace filter of the no-disk-writes test
// catches each kind of write, and passes reads and /dev, /proc, /sys.
func TestFileWritesFilter(t *testing.T) {
	log := strings.Join([]string{
		`100 execve("/tmp/meet", ["meet"], 0x7ffd /* 3 vars */) = 0`,
		`100 openat(AT_FDCWD, "/etc/ld.so.cache", O_RDONLY|O_CLOEXEC) = 3`,
		`101 openat(AT_FDCWD, "/dev/null", O_WRONLY|O_CLOEXEC) = 4`,
		`101 openat(AT_FDCWD, "/proc/self/oom_score_adj", O_RDWR) = 4`,
		`101 openat(AT_FDCWD, "/var/lib/meet/certs/x", O_RDWR|O_CREAT|O_TRUNC|O_CLOEXEC, 0600) = 5`,
		`102 openat(AT_FDCWD, "/tmp/recording.webm", O_WRONLY|O_CREAT|O_TRUNC|O_CLOEXEC, 0644) = 6`,
		`102 open("/tmp/log.txt", O_WRONLY|O_APPEND) = 6`,
		`102 renameat(AT_FDCWD, "/tmp/a", AT_FDCWD, "/tmp/b") = 0`,
		`102 unlinkat(AT_FDCWD, "/tmp/b", 0) = 0`,
		`102 mkdirat(AT_FDCWD, "/tmp/dir", 0755) = 0`,
		`102 ftruncate(6, 0) = 0`,
	}, "\n")
	bad, opens := fileWrites(log, []string{"/var/lib/meet/certs/"})
	if opens != 6 || len(bad) != 6 {
		t.Fatalf("opens %d, flagged %d:\n%s", opens, len(bad), strings.Join(bad, "\n"))
	}
	for _, want := range []string{"recording.webm", "log.txt", "renameat", "unlinkat", "mkdirat", "ftruncate"} {
		if !strings.Contains(strings.Join(bad, "\n"), want) {
			t.Errorf("%s not flagged", want)
		}
	}
}

func get(t *testing.T, url string) string {
	t.Helper()
	c := &http.Client{Timeout: 5 * time.Second}
	resp, err := c.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}
