package metrics

import (
	"fmt"
	"io"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
)

func sampleSFU() Media {
	return Media{Rooms: 2, Participants: 5, Tracks: 9, PacketsForwarded: 1000, BytesForwarded: 123456,
		Drops:         map[string]uint64{"congestion": 11, "keyframe_wait": 12, "paused": 0},
		NACKsReceived: 7, Retransmits: 6, NACKsSent: 3,
		PLIs: map[string]uint64{"layer_switch": 3, "subscriber": 1, "congestion": 0}, PLIsHeld: 5,
		RetransmitBytes: 4000, RetransmitsSkipped: map[string]uint64{"too_old": 8, "over_budget": 5},
		Liveness:      map[string]uint64{"video_paused": 2, "audio_paused": 1, "resumed": 1, "removed": 1},
		SocketPackets: 900, SocketSyscalls: 100, SocketErrors: 1, SocketGSODatagrams: 60,
		ForwardDelay: Histogram{Bounds: []float64{0.001, 0.005}, Counts: []uint64{3, 2, 1}, Sum: 0.02}}
}

// TestForwardDelayHistogram: the SFU's per-bucket counts become
// Prometheus's cumulative buckets, the count includes what lies beyond
// the last bound, and a source without the histogram exports none.
func TestForwardDelayHistogram(t *testing.T) {
	m, err := New(Config{SFU: source(sampleSFU())})
	if err != nil {
		t.Fatal(err)
	}
	fams, err := m.Gatherer().Gather()
	if err != nil {
		t.Fatal(err)
	}
	var h *dto.Histogram
	for _, f := range fams {
		if f.GetName() == "meet_forward_delay_seconds" {
			h = f.GetMetric()[0].GetHistogram()
		}
	}
	if h == nil {
		t.Fatal("no meet_forward_delay_seconds")
	}
	var got []string
	for _, b := range h.GetBucket() {
		got = append(got, fmt.Sprintf("%g:%d", b.GetUpperBound(), b.GetCumulativeCount()))
	}
	if g := strings.Join(got, " "); g != "0.001:3 0.005:5" || h.GetSampleCount() != 6 || h.GetSampleSum() != 0.02 {
		t.Errorf("buckets %s, count %d, sum %g; want 0.001:3 0.005:5, 6, 0.02", g, h.GetSampleCount(), h.GetSampleSum())
	}
	m, err = New(Config{SFU: source(Media{})})
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := values(t, m)["meet_forward_delay_seconds"]; ok {
		t.Error("a source without a histogram had one exported")
	}
}

func sampleTURN() TURN {
	return TURN{Allocations: 3, Refused: map[string]uint64{"peer_not_allowed": 4, "auth_failure": 2}}
}

func source[T any](v T) func() T { return func() T { return v } }

// values maps "name{label=value,...}" to each gathered sample's value.
func values(t *testing.T, m *Metrics) map[string]float64 {
	t.Helper()
	fams, err := m.Gatherer().Gather()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]float64{}
	for _, f := range fams {
		for _, mt := range f.GetMetric() {
			key := f.GetName()
			var ls []string
			for _, l := range mt.GetLabel() {
				ls = append(ls, l.GetName()+"="+l.GetValue())
			}
			if len(ls) > 0 {
				key += "{" + strings.Join(ls, ",") + "}"
			}
			out[key] = value(f.GetType(), mt)
		}
	}
	return out
}

func value(t dto.MetricType, m *dto.Metric) float64 {
	switch t {
	case dto.MetricType_COUNTER:
		return m.GetCounter().GetValue()
	case dto.MetricType_GAUGE:
		return m.GetGauge().GetValue()
	case dto.MetricType_HISTOGRAM:
		return float64(m.GetHistogram().GetSampleCount())
	}
	return m.GetUntyped().GetValue()
}

func TestCollectorReadsSources(t *testing.T) {
	m, err := New(Config{
		SFU:       source(sampleSFU()),
		Signaling: source(Signaling{Sessions: 5, AcceptedJoins: 8, RefusedJoins: 2, SlowClients: 1, BadMessages: 3}),
		TURN:      source(sampleTURN()),
	})
	if err != nil {
		t.Fatal(err)
	}
	m.ObserveJoin(3 * time.Millisecond)
	m.ObserveJoin(40 * time.Millisecond)
	got := values(t, m)
	want := map[string]float64{
		"meet_rooms": 2, "meet_participants": 5, "meet_tracks": 9,
		"meet_forwarded_packets_total": 1000, "meet_forwarded_bytes_total": 123456,
		"meet_dropped_packets_total{reason=congestion}":    11,
		"meet_dropped_packets_total{reason=keyframe_wait}": 12,
		"meet_dropped_packets_total{reason=paused}":        0,
		"meet_subscriber_liveness_total{reason=removed}":   1, "meet_retransmits_skipped_total{reason=over_budget}": 5, "meet_retransmitted_bytes_total": 4000,
		"meet_nacks_received_total": 7, "meet_retransmits_total": 6, "meet_nacks_sent_total": 3,
		"meet_plis_sent_total{reason=layer_switch}": 3, "meet_plis_sent_total{reason=subscriber}": 1,
		"meet_plis_sent_total{reason=congestion}": 0, "meet_plis_held_total": 5,
		"meet_socket_batched_packets_total": 900, "meet_socket_batch_syscalls_total": 100, "meet_socket_send_errors_total": 1,
		"meet_socket_gso_datagrams_total": 60,
		"meet_signaling_sessions":         5, "meet_joins_total": 8, "meet_joins_refused_total": 2,
		"meet_signaling_slow_clients_total": 1, "meet_signaling_bad_messages_total": 3,
		"meet_turn_allocations": 3, "meet_turn_refused_total{reason=peer_not_allowed}": 4,
		"meet_turn_refused_total{reason=auth_failure}": 2,
		"meet_join_duration_seconds":                   2,
	}
	for k, v := range want {
		if g, ok := got[k]; !ok || g != v {
			t.Errorf("%s = %v (present %v), want %v", k, g, ok, v)
		}
	}
}

// TestLabelsCarryNoIdentity: the only label names are fixed enumerations.
// A new label must be added here on purpose, after checking it cannot hold
// a room code, name, participant id or address. That the reasons the
// server passes are the SFU's and TURN's enumerations is checked on a real
// scrape in server (TestMetricsEndpoint).
func TestLabelsCarryNoIdentity(t *testing.T) {
	limits := map[string]uint64{"tokens": 3, "sessions": 1}
	m, err := New(Config{SFU: source(sampleSFU()), Signaling: source(Signaling{}), TURN: source(sampleTURN()), Limits: source(limits), Process: true})
	if err != nil {
		t.Fatal(err)
	}
	allowed := map[string]map[string]bool{
		"reason":  nil, // any value of an enumeration, checked below
		"limit":   nil, // admission's limit names (server checks them on a scrape)
		"version": nil, // go_info
	}
	reasons := map[string]bool{}
	for r := range sampleSFU().Drops {
		reasons[r] = true
	}
	for r := range sampleSFU().PLIs {
		reasons[r] = true
	}
	for r := range sampleSFU().RetransmitsSkipped {
		reasons[r] = true
	}
	for r := range sampleSFU().Liveness {
		reasons[r] = true
	}
	for r := range sampleTURN().Refused {
		reasons[r] = true
	}
	fams, err := m.Gatherer().Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range fams {
		for _, mt := range f.GetMetric() {
			for _, l := range mt.GetLabel() {
				if _, ok := allowed[l.GetName()]; !ok {
					t.Errorf("%s has label %s=%q: not an allowed label", f.GetName(), l.GetName(), l.GetValue())
				}
				if _, ok := limits[l.GetValue()]; l.GetName() == "limit" && !ok {
					t.Errorf("%s has limit %q that the source did not give", f.GetName(), l.GetValue())
				}
				if l.GetName() == "reason" && !reasons[l.GetValue()] {
					t.Errorf("%s has reason %q outside the enumeration", f.GetName(), l.GetValue())
				}
			}
		}
	}
}

func TestHandlerServesTextFormat(t *testing.T) {
	m, err := New(Config{SFU: source(sampleSFU()), Process: true})
	if err != nil {
		t.Fatal(err)
	}
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	body, _ := io.ReadAll(rec.Body)
	for _, want := range []string{"meet_rooms 2", `meet_dropped_packets_total{reason="congestion"} 11`,
		"go_goroutines", "process_cpu_seconds_total", "meet_join_duration_seconds_bucket"} {
		if !strings.Contains(string(body), want) {
			t.Errorf("scrape misses %q", want)
		}
	}
	if strings.Contains(string(body), "meet_turn_allocations") {
		t.Error("TURN metrics without a TURN source")
	}
}

// Two registries side by side: nothing is global.
func TestTwoInstances(t *testing.T) {
	for range 2 {
		if _, err := New(Config{SFU: source(Media{}), Process: true}); err != nil {
			t.Fatal(err)
		}
	}
}

func BenchmarkScrape(b *testing.B) {
	m, err := New(Config{SFU: source(sampleSFU()), Signaling: source(Signaling{}), TURN: source(sampleTURN())})
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := m.Gatherer().Gather(); err != nil {
			b.Fatal(err)
		}
	}
}
