package bench

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"
)

// ServerProbe reads a meet server's resource figures: goroutines, open
// files and RSS from its Prometheus endpoint (or /proc when the pid is
// known), and heap in use after a forced collection from the pprof heap
// profile that `meet --debug-pprof` serves on the metrics listener.
type ServerProbe struct {
	MetricsURL string // http://127.0.0.1:9090/metrics
	PprofURL   string // http://127.0.0.1:9090/debug/pprof; "" = heap unknown
	PID        int    // > 0: open files and RSS from /proc
	Client     *http.Client
}

// ServerSample is one reading; a figure that could not be read is unknown
// (NaN), not zero.
type ServerSample struct {
	Goroutines     Num `json:"goroutines"`
	OpenFDs        Num `json:"open_fds"`
	RSSBytes       Num `json:"rss_bytes"`
	HeapInuseBytes Num `json:"heap_inuse_bytes"` // after runtime.GC
}

// Sample takes one reading. The heap profile with gc=1 runs a full
// collection first, so the figure is live memory, not garbage. The first
// reading of a server warms its handlers (the metrics encoder's buffers),
// so take a baseline as the second one.
func (p ServerProbe) Sample(ctx context.Context) ServerSample {
	s := ServerSample{Goroutines: Unknown, OpenFDs: Unknown, RSSBytes: Unknown, HeapInuseBytes: Unknown}
	c := p.Client
	if c == nil {
		c = &http.Client{Timeout: 5 * time.Second}
	}
	if p.MetricsURL != "" {
		if b, err := get(ctx, c, p.MetricsURL); err == nil {
			s.Goroutines = ParsePromValue(b, "go_goroutines")
			s.OpenFDs = ParsePromValue(b, "process_open_fds")
			s.RSSBytes = ParsePromValue(b, "process_resident_memory_bytes")
		}
	}
	if p.PprofURL != "" {
		// Two collections: what sync.Pools hold survives the first one
		// (in their victim caches) and is not live memory either.
		for range 2 {
			if b, err := get(ctx, c, p.PprofURL+"/heap?gc=1&debug=1"); err == nil {
				s.HeapInuseBytes = parseHeapInuse(b)
			}
		}
	}
	if p.PID > 0 {
		if ents, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", p.PID)); err == nil {
			s.OpenFDs = Num(len(ents))
		}
		if rss, err := ProcRSS(p.PID); err == nil {
			s.RSSBytes = Num(rss)
		}
	}
	return s
}

func get(ctx context.Context, c *http.Client, url string) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	resp, err := c.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("%s: %s", url, resp.Status)
	}
	return io.ReadAll(io.LimitReader(resp.Body, 16<<20))
}

// parseHeapInuse finds "# HeapInuse = N" in a debug=1 heap profile.
func parseHeapInuse(b []byte) Num {
	i := bytes.Index(b, []byte("\n# HeapInuse = "))
	if i < 0 {
		return Unknown
	}
	rest := b[i+len("\n# HeapInuse = "):]
	if j := bytes.IndexByte(rest, '\n'); j >= 0 {
		rest = rest[:j]
	}
	v, err := strconv.ParseFloat(string(rest), 64)
	if err != nil {
		return Unknown
	}
	return Num(v)
}

// ParsePromValue returns the value of an unlabelled metric in Prometheus
// text exposition format, or Unknown.
func ParsePromValue(b []byte, name string) Num {
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		rest, ok := strings.CutPrefix(sc.Text(), name)
		if !ok || rest == "" || rest[0] != ' ' {
			continue
		}
		v, err := strconv.ParseFloat(strings.TrimSpace(rest), 64)
		if err != nil {
			return Unknown
		}
		return Num(v)
	}
	return Unknown
}
