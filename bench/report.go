package bench

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"
)

// Num is a measurement that may be unknown (NaN), for example server CPU
// when the bench neither started the server nor got its pid or metrics. It
// is written as null in JSON and "n/a" in tables, never as a made-up 0.
type Num float64

// Unknown is the value of a measurement the run could not take.
var Unknown = Num(math.NaN())

// Known reports whether n was measured.
func (n Num) Known() bool { return !math.IsNaN(float64(n)) && !math.IsInf(float64(n), 0) }

// MarshalJSON writes null for an unknown value.
func (n Num) MarshalJSON() ([]byte, error) {
	if !n.Known() {
		return []byte("null"), nil
	}
	// Large counts and rates read better without an exponent.
	if v := float64(n); math.Abs(v) >= 1e5 {
		return strconv.AppendFloat(nil, math.Round(v), 'f', 0, 64), nil
	}
	return strconv.AppendFloat(nil, float64(n), 'g', 6, 64), nil
}

// UnmarshalJSON reads null as Unknown.
func (n *Num) UnmarshalJSON(b []byte) error {
	if string(b) == "null" {
		*n = Unknown
		return nil
	}
	v, err := strconv.ParseFloat(string(b), 64)
	*n = Num(v)
	return err
}

// Scenario is what a load run was asked to do.
type Scenario struct {
	Rooms       int   `json:"rooms"`
	Publishers  int   `json:"publishers"`  // per room
	Subscribers int   `json:"subscribers"` // per room
	VideoBps    int64 `json:"video_bps"`   // per publisher (top layer with simulcast)
	Simulcast   bool  `json:"simulcast"`
	E2EE        bool  `json:"e2ee"`
	NACK        bool  `json:"nack"`         // subscribers sent NACKs
	TransportCC bool  `json:"transport_cc"` // subscribers took transport-wide sequence numbers
	ReceiveGRO  bool  `json:"receive_gro"`  // subscribers' sockets took GSO sends whole
	// DirectReceive: subscribers decrypted and counted media in their
	// socket's reader instead of in Pion's receive chain.
	DirectReceive bool `json:"direct_receive"`
	// TwoHosts: server and generator ran as two emulated hosts (network
	// namespaces with CPUs of their own, meet-bench load --two-hosts), so
	// the subscribers' kernel receive work was not billed to the server.
	TwoHosts  bool    `json:"two_hosts"`
	DurationS float64 `json:"duration_s"`
}

// Result is one load run. The JSON names are the contract other tools and
// docs/benchmarks.md rely on; add fields, do not rename them.
type Result struct {
	Scenario Scenario `json:"scenario"`

	// What subscribers received in the measurement window, per second.
	ForwardedPacketsPerS Num `json:"forwarded_packets_per_s"`
	ForwardedBitsPerS    Num `json:"forwarded_bits_per_s"`

	// Server process CPU over the window: cores busy on average, and
	// forwarded packets per CPU-second. Source says where CPU came from:
	// "proc" (/proc/<pid>/stat), "metrics" (process_cpu_seconds_total) or
	// "none".
	ServerCPUCores       Num    `json:"server_cpu_cores"`
	PacketsPerServerCPUS Num    `json:"packets_per_server_cpu_s"`
	ServerCPUSource      string `json:"server_cpu_source"`
	ServerRSSBytes       Num    `json:"server_rss_bytes"`

	// The bare path (rewrite + SRTP + sendto) at the same packet rate,
	// measured right after the load in a separate process.
	CeilingPacketsPerCoreS Num `json:"ceiling_packets_per_core_s"`
	CeilingRatio           Num `json:"ceiling_ratio"`

	LossRatio        Num   `json:"loss_ratio"`
	PacketsReceived  int64 `json:"packets_received"`
	PacketsLost      int64 `json:"packets_lost"`
	PacketsReordered int64 `json:"packets_reordered"`

	LatencyP50Ms  Num   `json:"latency_p50_ms"`
	LatencyP99Ms  Num   `json:"latency_p99_ms"`
	LatencyMaxMs  Num   `json:"latency_max_ms"`
	LatencyFrames int64 `json:"latency_frames"`

	// The generator's own CPU (all its clients) in cores. On a small
	// machine it competes with the server for the same cores.
	BenchCPUCores Num `json:"bench_cpu_cores"`
	// How late the generator's 10 ms timer fired over the window (p50,
	// p99). Above StarvedLateMs the generator itself was starved of CPU:
	// part of the loss and latency is its own, not the server's.
	BenchTimerLateP50Ms Num  `json:"bench_timer_late_p50_ms"`
	BenchTimerLateP99Ms Num  `json:"bench_timer_late_p99_ms"`
	BenchStarved        bool `json:"bench_starved"`

	// Packets the server did not forward to a subscriber over the window,
	// per second, by reason (meet_dropped_packets_total); nil when its
	// metrics were not read.
	ServerDropsPerS map[string]float64 `json:"server_drops_per_s,omitempty"`
	// The server's own share of the frame latency over the window, p50
	// and p99 (meet_forward_delay_seconds: from the SFU reading a frame's
	// first packet to its last subscriber's copy being sent), estimated
	// from the histogram's buckets; unknown when its metrics were not read.
	ServerForwardDelayP50Ms Num `json:"server_forward_delay_p50_ms"`
	ServerForwardDelayP99Ms Num `json:"server_forward_delay_p99_ms"`

	// How busy the whole machine was (all CPUs, every process: 1 = no idle
	// time), and the server's context switches per second (all threads,
	// from /proc; unknown with --url and no --server-pid). A latency tail
	// means little when the machine had no idle CPU.
	MachineCPUBusy     Num `json:"machine_cpu_busy"`
	ServerSwitchesPerS Num `json:"server_context_switches_per_s"`
	// Datagrams the kernel dropped in the window because a receiving
	// socket was full (machine-wide Udp RcvbufErrors): loss a starved
	// reader caused, a subscriber of the bench or the server itself.
	UDPRcvbufDrops Num `json:"udp_rcvbuf_drops"`

	SetupS               float64  `json:"setup_s"`
	SubscriberTracks     int      `json:"subscriber_tracks"`      // receiving at the start of the window
	SubscriberTracksWant int      `json:"subscriber_tracks_want"` // rooms × subscribers × publishers
	Notes                []string `json:"notes,omitempty"`
}

// WriteJSON writes r as one indented JSON object.
func (r *Result) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

func fmtNum(n Num, format string) string {
	if !n.Known() {
		return "n/a"
	}
	return fmt.Sprintf(format, float64(n))
}

// WriteTable writes r for people: one measurement a line, with its unit.
func (r *Result) WriteTable(w io.Writer) error {
	s := r.Scenario
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	video := FormatBitrate(float64(s.VideoBps))
	fmt.Fprintf(tw, "scenario\t%d room(s) × (%d publishers, %d subscribers), video %s, simulcast %v, e2ee %v, nack %v, transport-cc %v, receive-gro %v, direct-receive %v, two-hosts %v, %.0f s\n",
		s.Rooms, s.Publishers, s.Subscribers, video, s.Simulcast, s.E2EE, s.NACK, s.TransportCC, s.ReceiveGRO, s.DirectReceive, s.TwoHosts, s.DurationS)
	fmt.Fprintf(tw, "subscriber tracks up\t%d of %d (set-up %.1f s)\n", r.SubscriberTracks, r.SubscriberTracksWant, r.SetupS)
	fmt.Fprintf(tw, "forwarded\t%s packets/s\t%s\n", fmtNum(r.ForwardedPacketsPerS, "%.0f"), FormatBitrate(float64(r.ForwardedBitsPerS)))
	fmt.Fprintf(tw, "server CPU\t%s cores\t(source: %s)\n", fmtNum(r.ServerCPUCores, "%.3f"), r.ServerCPUSource)
	fmt.Fprintf(tw, "packets per server CPU-second\t%s\n", fmtNum(r.PacketsPerServerCPUS, "%.0f"))
	// The JSON keeps the names "ceiling_*"; the reference is no ceiling.
	fmt.Fprintf(tw, "naive reference (one sendto a packet) per core-second\t%s\n", fmtNum(r.CeilingPacketsPerCoreS, "%.0f"))
	fmt.Fprintf(tw, "server / naive reference\t%s\n", fmtNum(r.CeilingRatio, "%.3f"))
	fmt.Fprintf(tw, "loss\t%s\t(%d lost, %d received, %d reordered; %s dropped by full receive buffers)\n", fmtNum(r.LossRatio, "%.5f"), r.PacketsLost, r.PacketsReceived, r.PacketsReordered, fmtNum(r.UDPRcvbufDrops, "%.0f"))
	fmt.Fprintf(tw, "frame latency p50 / p99 / max\t%s / %s / %s ms\t(%d frames; server at %s of a core, machine %s busy)\n",
		fmtNum(r.LatencyP50Ms, "%.2f"), fmtNum(r.LatencyP99Ms, "%.2f"), fmtNum(r.LatencyMaxMs, "%.2f"), r.LatencyFrames,
		fmtNum(r.ServerCPUCores*100, "%.0f%%"), fmtNum(r.MachineCPUBusy*100, "%.0f%%"))
	fmt.Fprintf(tw, "server forward delay p50 / p99\t%s / %s ms\t(from reading a frame's first packet to its last copy sent)\n",
		fmtNum(r.ServerForwardDelayP50Ms, "%.2f"), fmtNum(r.ServerForwardDelayP99Ms, "%.2f"))
	fmt.Fprintf(tw, "server context switches\t%s /s\n", fmtNum(r.ServerSwitchesPerS, "%.0f"))
	fmt.Fprintf(tw, "server RSS\t%s MiB\n", fmtNum(r.ServerRSSBytes/(1<<20), "%.1f"))
	fmt.Fprintf(tw, "bench (generator) CPU\t%s cores\n", fmtNum(r.BenchCPUCores, "%.3f"))
	fmt.Fprintf(tw, "bench timer late p50 / p99\t%s / %s ms%s\n", fmtNum(r.BenchTimerLateP50Ms, "%.1f"), fmtNum(r.BenchTimerLateP99Ms, "%.1f"),
		map[bool]string{true: "  (generator starved of CPU)", false: ""}[r.BenchStarved])
	if len(r.ServerDropsPerS) > 0 {
		reasons := make([]string, 0, len(r.ServerDropsPerS))
		for k := range r.ServerDropsPerS {
			reasons = append(reasons, k)
		}
		sort.Strings(reasons)
		var parts []string
		for _, k := range reasons {
			parts = append(parts, fmt.Sprintf("%s %.1f", k, r.ServerDropsPerS[k]))
		}
		fmt.Fprintf(tw, "server drops per s\t%s\n", strings.Join(parts, ", "))
	}
	for _, n := range r.Notes {
		fmt.Fprintf(tw, "note\t%s\n", n)
	}
	return tw.Flush()
}

// CeilingResult is one bare-path run (meet-bench ceiling).
type CeilingResult struct {
	Packets      int64   `json:"packets"`
	PayloadBytes int     `json:"payload_bytes"`
	PacketBytes  int     `json:"packet_bytes"` // on the wire (SRTP), without UDP/IP headers
	WallS        float64 `json:"wall_s"`
	RateAsked    int64   `json:"rate_asked"` // packets/s; 0 = saturation
	// Sender process CPU (getrusage RUSAGE_SELF: the sending goroutine's
	// thread plus the Go runtime's, and the kernel's loopback delivery to
	// the receiver that runs in the sender's syscall).
	SenderCPUS float64 `json:"sender_cpu_s"`
	// The sending thread alone (RUSAGE_THREAD).
	SenderThreadCPUS       float64 `json:"sender_thread_cpu_s"`
	PacketsPerS            float64 `json:"packets_per_s"`
	CeilingPacketsPerCoreS float64 `json:"ceiling_packets_per_core_s"` // Packets / SenderCPUS
	NsPerPacket            float64 `json:"ns_per_packet"`              // sender CPU per packet
	SendErrors             int64   `json:"send_errors"`
	Received               int64   `json:"received"` // counted by the receiver process
	ReceiverCPUS           float64 `json:"receiver_cpu_s"`
}

// WriteTable writes c for people.
func (c *CeilingResult) WriteTable(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	rate := "saturation"
	if c.RateAsked > 0 {
		rate = fmt.Sprintf("%d packets/s", c.RateAsked)
	}
	fmt.Fprintf(tw, "rate asked\t%s\n", rate)
	fmt.Fprintf(tw, "packets sent\t%d in %.2f s (%.0f packets/s), %d send errors\n", c.Packets, c.WallS, c.PacketsPerS, c.SendErrors)
	fmt.Fprintf(tw, "packet\t%d bytes SRTP (%d payload), AEAD_AES_128_GCM\n", c.PacketBytes, c.PayloadBytes)
	fmt.Fprintf(tw, "sender CPU\t%.3f s process, %.3f s sending thread\n", c.SenderCPUS, c.SenderThreadCPUS)
	fmt.Fprintf(tw, "ceiling\t%.0f packets per core-second\t(%.0f ns CPU per packet)\n", c.CeilingPacketsPerCoreS, c.NsPerPacket)
	fmt.Fprintf(tw, "receiver (child process)\t%d received, %.3f s CPU, not counted above\n", c.Received, c.ReceiverCPUS)
	return tw.Flush()
}
