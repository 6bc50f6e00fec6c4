package bench

import (
	"bufio"
	"bytes"
	"strconv"
	"strings"
	"sync"
	"time"
)

// StarvedLateMs is the p99 lateness of the generator's 10 ms timer above
// which a run is reported as starved of CPU: its clients then read and send
// late, and its loss and latency figures include its own delay, not only
// the server's.
const StarvedLateMs = 20

// StarvationProbe measures how late a goroutine of this process wakes from
// a 10 ms sleep: on a machine with spare cores that is well under a
// millisecond; when the process waits for a core, it is the wait.
type StarvationProbe struct {
	stop chan struct{}
	done chan struct{}
	mu   sync.Mutex
	late *Samples // ms
}

// StartStarvationProbe starts measuring until Stop.
func StartStarvationProbe() *StarvationProbe {
	p := &StarvationProbe{stop: make(chan struct{}), done: make(chan struct{}), late: NewSamples(100000)}
	go p.run()
	return p
}

func (p *StarvationProbe) run() {
	defer close(p.done)
	const tick = 10 * time.Millisecond
	for {
		t0 := time.Now()
		select {
		case <-p.stop:
			return
		case <-time.After(tick):
		}
		late := time.Since(t0) - tick
		p.mu.Lock()
		p.late.Add(float64(late.Microseconds()) / 1e3)
		p.mu.Unlock()
	}
}

// Stop ends the probe and returns the p50 and p99 lateness in ms.
func (p *StarvationProbe) Stop() (p50, p99 Num) {
	close(p.stop)
	<-p.done
	p.mu.Lock()
	defer p.mu.Unlock()
	v := p.late.Values()
	return Num(Percentile(v, 50)), Num(Percentile(v, 99))
}

// ParsePromLabelled returns every value of a metric with one label, by
// that label's value, from Prometheus text exposition format; e.g. name
// meet_dropped_packets_total and label reason.
func ParsePromLabelled(b []byte, name, label string) map[string]float64 {
	out := map[string]float64{}
	prefix := name + "{"
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		rest, ok := strings.CutPrefix(sc.Text(), prefix)
		if !ok {
			continue
		}
		labels, val, ok := strings.Cut(rest, "} ")
		if !ok {
			continue
		}
		var key string
		for _, kv := range strings.Split(labels, ",") {
			if k, v, ok := strings.Cut(kv, "="); ok && k == label {
				key = strings.Trim(v, `"`)
			}
		}
		f, err := strconv.ParseFloat(strings.TrimSpace(val), 64)
		if key != "" && err == nil {
			out[key] += f
		}
	}
	return out
}
