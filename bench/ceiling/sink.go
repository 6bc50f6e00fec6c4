package ceiling

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os/exec"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/monkeythorn/meet/bench"
)

// sinkReport is what a sink process prints when it stops.
type sinkReport struct {
	Received int64   `json:"received"`
	CPUS     float64 `json:"cpu_s"`
}

// sinkRcvBuf is the receive buffer the sink asks for, so bursts do not
// overflow it while it is descheduled on a busy machine.
const sinkRcvBuf = 8 << 20

// ServeSink is the receiver process: it binds a UDP port on 127.0.0.1,
// writes "port N" to out, counts datagrams until in reaches EOF (the parent
// closed its end) or maxLife passes, then writes a JSON report to out.
func ServeSink(in io.Reader, out io.Writer, maxLife time.Duration) error {
	conn, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		return err
	}
	_ = conn.SetReadBuffer(sinkRcvBuf)
	cpu0 := bench.SelfCPU()
	fmt.Fprintf(out, "port %d\n", conn.LocalAddr().(*net.UDPAddr).Port)
	var n atomic.Int64
	done := make(chan struct{})
	go func() {
		defer close(done)
		buf := make([]byte, 2048)
		for {
			if _, err := conn.Read(buf); err != nil {
				if errors.Is(err, net.ErrClosed) {
					return
				}
				continue
			}
			n.Add(1)
		}
	}()
	eof := make(chan struct{})
	go func() { io.Copy(io.Discard, in); close(eof) }()
	select {
	case <-eof:
	case <-time.After(maxLife):
	}
	// Let the last datagrams in flight arrive before counting.
	time.Sleep(50 * time.Millisecond)
	conn.Close()
	<-done
	return json.NewEncoder(out).Encode(sinkReport{Received: n.Load(), CPUS: (bench.SelfCPU() - cpu0).Seconds()})
}

// Run starts a sink with sinkCmd (a re-exec of meet-bench with its hidden
// sink subcommand, or of a test binary), sends to it with Send, and returns
// the combined result.
func Run(ctx context.Context, cfg Config, sinkCmd *exec.Cmd) (*bench.CeilingResult, error) {
	stdin, err := sinkCmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	stdout, err := sinkCmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := sinkCmd.Start(); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrSink, err)
	}
	defer func() {
		stdin.Close()
		done := make(chan struct{})
		go func() { sinkCmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			sinkCmd.Process.Kill()
			<-done
		}
	}()
	rd := bufio.NewReader(stdout)
	port, err := readPort(rd)
	if err != nil {
		return nil, err
	}
	cfg.Sink = &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: port}
	r, err := Send(ctx, cfg)
	if err != nil {
		return nil, err
	}
	stdin.Close()
	var rep sinkReport
	if err := json.NewDecoder(rd).Decode(&rep); err != nil {
		return nil, fmt.Errorf("%w: no report: %v", ErrSink, err)
	}
	r.Received, r.ReceiverCPUS = rep.Received, rep.CPUS
	return r, nil
}

func readPort(rd *bufio.Reader) (int, error) {
	type res struct {
		line string
		err  error
	}
	ch := make(chan res, 1)
	go func() { l, err := rd.ReadString('\n'); ch <- res{l, err} }()
	select {
	case r := <-ch:
		if r.err != nil {
			return 0, fmt.Errorf("%w: %v", ErrSink, r.err)
		}
		p, err := strconv.Atoi(strings.TrimSpace(strings.TrimPrefix(r.line, "port ")))
		if err != nil || p <= 0 {
			return 0, fmt.Errorf("%w: bad first line %q", ErrSink, r.line)
		}
		return p, nil
	case <-time.After(10 * time.Second):
		return 0, fmt.Errorf("%w: no port within 10 s", ErrSink)
	}
}
