package e2e

import (
	"bufio"
	"bytes"
	"encoding/json"
	"github.com/monkeythorn/meet/internal/logbuf"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/monkeythorn/meet/signaling"
)

// meetProc is the real meet binary running as a child process, as a
// self-hoster runs it, with its stderr (JSON logs) kept.
type meetProc struct {
	cmd     *exec.Cmd
	logs    *logbuf.Buffer
	running map[string]string // fields of the "meet is running" line
	exited  chan struct{}
	code    int
}

// opsBinary builds cmd/meet with firefox_test.go's buildMeet.
func opsBinary(t *testing.T) string {
	t.Helper()
	return buildMeet(t, "..", t.TempDir())
}

// opsArgs run the binary on loopback only, with every port chosen by the
// kernel and the fixed-port listeners (TURN, ICE-TCP) off.
var opsArgs = []string{"--dev", "--listen", "127.0.0.1:0", "--udp-port", "0", "--media-ip", "127.0.0.1",
	"--turn-udp-port=0", "--turn-tcp-port=0", "--ice-tcp-port=0", "--metrics-listen", "127.0.0.1:0", "--log-format", "json"}

// startMeet runs prefix (e.g. strace) + bin + args and waits until it
// logs that it is running.
func startMeet(t *testing.T, prefix []string, bin string, args ...string) *meetProc {
	t.Helper()
	argv := append(append(append([]string{}, prefix...), bin), args...)
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Env = append(os.Environ(), "MEET_SECRET=") // --dev makes its own
	// Its own process group: signals reach meet even under strace (which
	// blocks fatal signals itself when it runs a program with -o), and
	// clean-up kills both.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	// Wait must return even if something still holds the output pipes
	// (a process left over under strace): tests never hang on a child.
	cmd.WaitDelay = 5 * time.Second
	p := &meetProc{cmd: cmd, logs: &logbuf.Buffer{}, exited: make(chan struct{})}
	cmd.Stdout, cmd.Stderr = p.logs, p.logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		_ = cmd.Wait()
		p.code = cmd.ProcessState.ExitCode()
		close(p.exited)
	}()
	t.Cleanup(func() {
		select {
		case <-p.exited:
		default:
			_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			select {
			case <-p.exited:
			case <-time.After(15 * time.Second):
				t.Errorf("meet (pid %d) did not exit after SIGKILL", cmd.Process.Pid)
			}
		}
		if t.Failed() {
			t.Logf("meet's log:\n%s", p.logs.String())
		}
	})
	deadline := time.Now().Add(20 * time.Second)
	for p.running == nil {
		for _, m := range p.lines() {
			if m["msg"] == "meet is running" {
				p.running = map[string]string{}
				for k, v := range m {
					if s, ok := v.(string); ok {
						p.running[k] = s
					}
				}
			}
		}
		select {
		case <-p.exited:
			t.Fatalf("meet exited with %d before running", p.code)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatal("meet not running after 20 s")
		}
		time.Sleep(20 * time.Millisecond)
	}
	return p
}

func (p *meetProc) URL() string { return "http://" + p.running["http"] }

// lines are the JSON log lines so far.
func (p *meetProc) lines() []map[string]any {
	var out []map[string]any
	sc := bufio.NewScanner(strings.NewReader(p.logs.String()))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var m map[string]any
		if json.Unmarshal(sc.Bytes(), &m) == nil {
			out = append(out, m)
		}
	}
	return out
}

func (p *meetProc) signal(t *testing.T, sig syscall.Signal) {
	t.Helper()
	if err := syscall.Kill(-p.cmd.Process.Pid, sig); err != nil {
		t.Fatal(err)
	}
}

// wait returns the exit code, failing the test after d.
func (p *meetProc) wait(t *testing.T, d time.Duration) int {
	t.Helper()
	select {
	case <-p.exited:
		return p.code
	case <-time.After(d):
		t.Fatalf("meet still running %v later", d)
		return -1
	}
}

// wsMember is a participant on signaling only (enough to be "in a call"
// for the server), with a token the test knows.
type wsMember struct {
	conn  *websocket.Conn
	token string
	msgs  chan map[string]any
}

func joinWS(t *testing.T, base, room string, profile string) *wsMember {
	t.Helper()
	body, _ := json.Marshal(map[string]any{"room": room})
	resp, err := http.Post(base+"/api/token", "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	var tr struct{ Token, WS string }
	err = json.NewDecoder(resp.Body).Decode(&tr)
	resp.Body.Close()
	if err != nil || tr.Token == "" {
		t.Fatalf("token: %d %v", resp.StatusCode, err)
	}
	c, _, err := websocket.DefaultDialer.Dial(tr.WS, nil)
	if err != nil {
		t.Fatal(err)
	}
	m := &wsMember{conn: c, token: tr.Token, msgs: make(chan map[string]any, 64)}
	if err := c.WriteJSON(signaling.Join{Type: signaling.TypeJoin, Version: signaling.Version, Token: tr.Token, Room: room, Profile: profile}); err != nil {
		t.Fatal(err)
	}
	go func() {
		defer close(m.msgs)
		for {
			var msg map[string]any
			if err := c.ReadJSON(&msg); err != nil {
				return
			}
			select {
			case m.msgs <- msg:
			default:
			}
		}
	}()
	t.Cleanup(func() { c.Close() })
	if msg := m.next(t, "welcome", 10*time.Second); msg == nil {
		t.Fatal("no welcome")
	}
	return m
}

// next returns the next message of type typ, skipping others.
func (m *wsMember) next(t *testing.T, typ string, d time.Duration) map[string]any {
	t.Helper()
	timeout := time.After(d)
	for {
		select {
		case msg, ok := <-m.msgs:
			if !ok {
				t.Fatalf("connection closed while waiting for %s", typ)
			}
			if msg["type"] == typ {
				return msg
			}
		case <-timeout:
			t.Fatalf("no %s within %v", typ, d)
			return nil
		}
	}
}

func (m *wsMember) leave() {
	_ = m.conn.WriteJSON(signaling.Leave{Type: signaling.TypeLeave})
	_ = m.conn.Close()
}

func httpStatus(t *testing.T, url string) int {
	t.Helper()
	c := &http.Client{Timeout: 3 * time.Second}
	resp, err := c.Get(url)
	if err != nil {
		return 0
	}
	resp.Body.Close()
	return resp.StatusCode
}

// jsString quotes s as a JavaScript string literal.
func jsString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// jsonLine re-encodes one log line.
func jsonLine(m map[string]any) (string, error) {
	b, err := json.Marshal(m)
	return string(b), err
}
