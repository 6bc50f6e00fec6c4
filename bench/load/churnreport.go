package load

import (
	"encoding/csv"
	"fmt"
	"io"
	"strconv"

	"github.com/monkeythorn/meet/bench"
)

var churnHeader = []string{"t_s", "in_room", "joins", "failures", "join_p50_ms", "join_p99_ms",
	"goroutines", "open_fds", "rss_bytes", "heap_inuse_bytes", "bench_cpu_cores"}

func num(n bench.Num) string {
	if !n.Known() {
		return ""
	}
	return strconv.FormatFloat(float64(n), 'g', 6, 64)
}

// WriteChurnCSV writes the baseline (t_s empty), one row per sample and
// the final sample after everyone left (t_s empty).
func WriteChurnCSV(w io.Writer, r *ChurnResult) error {
	cw := csv.NewWriter(w)
	_ = cw.Write(churnHeader)
	server := func(s bench.ServerSample) []string {
		return []string{num(s.Goroutines), num(s.OpenFDs), num(s.RSSBytes), num(s.HeapInuseBytes)}
	}
	_ = cw.Write(append([]string{"baseline", "0", "", "", "", ""}, append(server(r.Baseline), "")...))
	for _, p := range r.Points {
		row := []string{strconv.FormatFloat(p.AtS, 'f', 1, 64), strconv.Itoa(p.InRoom), strconv.Itoa(p.Joins), strconv.Itoa(p.Failures), num(p.JoinP50Ms), num(p.JoinP99Ms)}
		_ = cw.Write(append(append(row, server(p.ServerSample)...), num(p.BenchCPUCores)))
	}
	_ = cw.Write(append([]string{"final", "0", "", "", "", ""}, append(server(r.Final), "")...))
	cw.Flush()
	return cw.Error()
}

// WriteChurnSVG charts goroutines, open files, RSS, heap after GC and join
// latency p99 over the soak.
func WriteChurnSVG(w io.Writer, r *ChurnResult) error {
	xs := make([]float64, len(r.Points))
	ss := []bench.Series{
		{Title: "Server goroutines", Unit: "count"},
		{Title: "Server open files", Unit: "count"},
		{Title: "Server RSS", Unit: "MB"},
		{Title: "Server heap in use after GC", Unit: "MB"},
		{Title: "Join latency p99 (token to media connected)", Unit: "ms"},
	}
	for i, p := range r.Points {
		xs[i] = p.AtS
		vals := []bench.Num{p.Goroutines, p.OpenFDs, p.RSSBytes / 1e6, p.HeapInuseBytes / 1e6, p.JoinP99Ms}
		for j := range ss {
			ss[j].Ys = append(ss[j].Ys, vals[j])
		}
	}
	title := fmt.Sprintf("meet-bench churn: %.0f joins/min, %d in the room, %.0f s", r.JoinsPerMin, r.InRoom, r.DurationS)
	return bench.WriteSeriesSVG(w, "seconds", title, xs, ss)
}
