package metrics

import (
	"fmt"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Namespace prefixes every metric of ours.
const Namespace = "meet"

// JoinBuckets are the join latency histogram's upper bounds in seconds: a
// join on an idle server takes a few milliseconds; seconds mean trouble.
var JoinBuckets = []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5}

// Config says where the collector reads from. Every source is optional: a
// node without embedded TURN simply has no TURN metrics.
type Config struct {
	SFU       func() Media
	Signaling func() Signaling
	TURN      func() TURN
	// Limits returns the abuse limits' refusals by limit name
	// (docs/security.md).
	Limits func() map[string]uint64
	// Process adds the Go runtime and process (CPU, memory, file
	// descriptors) collectors. Tests running two servers in one process
	// may leave it off; the binary turns it on.
	Process bool
}

// Metrics is one node's registry.
type Metrics struct {
	reg  *prometheus.Registry
	join prometheus.Histogram
}

// New builds the registry and registers the collectors.
func New(cfg Config) (*Metrics, error) {
	m := &Metrics{
		reg: prometheus.NewRegistry(),
		join: prometheus.NewHistogram(prometheus.HistogramOpts{
			Namespace: Namespace,
			Name:      "join_duration_seconds",
			Help:      "Time from a participant's join message to its welcome: token check and SFU join.",
			Buckets:   JoinBuckets,
		}),
	}
	cs := []prometheus.Collector{m.join, newCollector(cfg)}
	if cfg.Process {
		cs = append(cs, collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	}
	for _, c := range cs {
		if err := m.reg.Register(c); err != nil {
			return nil, fmt.Errorf("%w: %v", ErrConfig, err)
		}
	}
	return m, nil
}

// ObserveJoin records one successful join's latency.
func (m *Metrics) ObserveJoin(d time.Duration) { m.join.Observe(d.Seconds()) }

// Handler serves the registry in the Prometheus text format. Serve it on a
// listener of its own (127.0.0.1 by default): the numbers are harmless, but
// they are not the public's business.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{ErrorHandling: promhttp.ContinueOnError})
}

// Gatherer returns the registry, for tests and for pushing elsewhere.
func (m *Metrics) Gatherer() prometheus.Gatherer { return m.reg }
