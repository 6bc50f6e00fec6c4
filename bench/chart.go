package bench

import (
	"encoding/csv"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
)

// SweepPoint is one load run of a sweep, as charted.
type SweepPoint struct {
	X      int // the swept parameter's value
	Result *Result
}

var csvHeader = []string{
	"x", "forwarded_packets_per_s", "server_cpu_cores", "packets_per_server_cpu_s",
	"ceiling_ratio", "loss_ratio", "latency_p50_ms", "latency_p99_ms", "server_rss_bytes", "bench_cpu_cores",
}

func csvNum(n Num) string {
	if !n.Known() {
		return ""
	}
	return strconv.FormatFloat(float64(n), 'g', 6, 64)
}

// WriteCSV writes one row per sweep point; unknown values are empty cells.
func WriteCSV(w io.Writer, param string, pts []SweepPoint) error {
	cw := csv.NewWriter(w)
	h := append([]string(nil), csvHeader...)
	h[0] = param
	if err := cw.Write(h); err != nil {
		return err
	}
	for _, p := range pts {
		r := p.Result
		row := []string{strconv.Itoa(p.X), csvNum(r.ForwardedPacketsPerS), csvNum(r.ServerCPUCores),
			csvNum(r.PacketsPerServerCPUS), csvNum(r.CeilingRatio), csvNum(r.LossRatio),
			csvNum(r.LatencyP50Ms), csvNum(r.LatencyP99Ms), csvNum(r.ServerRSSBytes), csvNum(r.BenchCPUCores)}
		if err := cw.Write(row); err != nil {
			return err
		}
	}
	cw.Flush()
	return cw.Error()
}

// Chart geometry, in SVG user units.
const (
	chartW     = 640
	panelH     = 190
	marginL    = 80
	marginR    = 20
	marginT    = 30
	marginB    = 40
	chartTitle = 30
)

type panel struct {
	title, unit string
	value       func(*Result) Num
}

var panels = []panel{
	{"Forwarded throughput", "packets/s", func(r *Result) Num { return r.ForwardedPacketsPerS }},
	{"Server CPU", "cores", func(r *Result) Num { return r.ServerCPUCores }},
	{"Frame latency p99", "ms", func(r *Result) Num { return r.LatencyP99Ms }},
}

// Series is one panel of a chart: a title and unit, and a y value (or
// Unknown) at each x.
type Series struct {
	Title, Unit string
	Ys          []Num
}

// WriteSVG draws throughput, server CPU and p99 latency against the swept
// parameter, one panel each, with plain SVG elements only (no scripts, no
// external fonts) so it renders anywhere, including on GitHub.
func WriteSVG(w io.Writer, param, title string, pts []SweepPoint) error {
	xs := make([]float64, len(pts))
	for i, p := range pts {
		xs[i] = float64(p.X)
	}
	ss := make([]Series, len(panels))
	for i, p := range panels {
		ss[i] = Series{Title: p.title, Unit: p.unit, Ys: make([]Num, len(pts))}
		for j, pt := range pts {
			ss[i].Ys[j] = p.value(pt.Result)
		}
	}
	return WriteSeriesSVG(w, param, title, xs, ss)
}

// WriteSeriesSVG draws one panel per series over the same xs, in the
// style of WriteSVG.
func WriteSeriesSVG(w io.Writer, xname, title string, xs []float64, ss []Series) error {
	var b strings.Builder
	height := chartTitle + len(ss)*panelH
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" font-family="sans-serif" font-size="11">`+"\n", chartW, height, chartW, height)
	fmt.Fprintf(&b, `<rect width="100%%" height="100%%" fill="white"/>`+"\n")
	fmt.Fprintf(&b, `<text x="%d" y="20" font-size="14" font-weight="bold">%s</text>`+"\n", marginL, xmlEscape(title))
	xmin, xmax := xRange(xs)
	for i, s := range ss {
		drawPanel(&b, chartTitle+i*panelH, xname, s, xs, xmin, xmax)
	}
	b.WriteString("</svg>\n")
	_, err := io.WriteString(w, b.String())
	return err
}

func xRange(xs []float64) (float64, float64) {
	if len(xs) == 0 {
		return 0, 1
	}
	lo, hi := xs[0], xs[0]
	for _, x := range xs {
		lo, hi = math.Min(lo, x), math.Max(hi, x)
	}
	if hi == lo {
		hi = lo + 1
	}
	return lo, hi
}

// maxXLabels is how many points get an x label each; with more, five
// evenly spaced labels are drawn instead.
const maxXLabels = 12

func drawPanel(b *strings.Builder, top int, xname string, s Series, xs []float64, xmin, xmax float64) {
	x0, x1 := float64(marginL), float64(chartW-marginR)
	y0, y1 := float64(top+panelH-marginB), float64(top+marginT)
	ymax := 0.0
	for _, v := range s.Ys {
		if v.Known() {
			ymax = math.Max(ymax, float64(v))
		}
	}
	ymax = niceCeil(ymax)
	sx := func(x float64) float64 { return x0 + (x-xmin)/(xmax-xmin)*(x1-x0) }
	sy := func(y float64) float64 { return y0 - y/ymax*(y0-y1) }

	fmt.Fprintf(b, `<text x="%d" y="%d" font-weight="bold">%s (%s)</text>`+"\n", marginL, top+marginT-8, xmlEscape(s.Title), xmlEscape(s.Unit))
	fmt.Fprintf(b, `<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="black"/>`+"\n", x0, y0, x1, y0)
	fmt.Fprintf(b, `<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="black"/>`+"\n", x0, y0, x0, y1)
	for i := 0; i <= 4; i++ {
		v := ymax * float64(i) / 4
		y := sy(v)
		fmt.Fprintf(b, `<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="#ddd"/>`+"\n", x0, y, x1, y)
		fmt.Fprintf(b, `<text x="%.1f" y="%.1f" text-anchor="end">%s</text>`+"\n", x0-4, y+4, shortNum(v))
	}
	labels := xs
	if len(xs) > maxXLabels {
		labels = nil
		for i := 0; i <= 4; i++ {
			labels = append(labels, xmin+(xmax-xmin)*float64(i)/4)
		}
	}
	for _, x := range labels {
		fmt.Fprintf(b, `<text x="%.1f" y="%.1f" text-anchor="middle">%s</text>`+"\n", sx(x), y0+14, shortNum(x))
	}
	fmt.Fprintf(b, `<text x="%.1f" y="%.1f" text-anchor="middle">%s</text>`+"\n", (x0+x1)/2, y0+30, xmlEscape(xname))
	var line []string
	for i, v := range s.Ys {
		if !v.Known() {
			continue
		}
		x, y := sx(xs[i]), sy(float64(v))
		line = append(line, fmt.Sprintf("%.1f,%.1f", x, y))
		fmt.Fprintf(b, `<circle cx="%.1f" cy="%.1f" r="3" fill="#1f6feb"/>`+"\n", x, y)
	}
	if len(line) > 1 {
		fmt.Fprintf(b, `<polyline points="%s" fill="none" stroke="#1f6feb" stroke-width="2"/>`+"\n", strings.Join(line, " "))
	}
}

// niceCeil rounds v up to 1, 2 or 5 times a power of ten, so axis labels
// are round numbers.
func niceCeil(v float64) float64 {
	if v <= 0 {
		return 1
	}
	p := math.Pow(10, math.Floor(math.Log10(v)))
	for _, m := range []float64{1, 2, 5, 10} {
		if v <= m*p {
			return m * p
		}
	}
	return 10 * p
}

func shortNum(v float64) string {
	switch {
	case v >= 1e6:
		return strconv.FormatFloat(v/1e6, 'g', 3, 64) + "M"
	case v >= 1e3:
		return strconv.FormatFloat(v/1e3, 'g', 3, 64) + "k"
	}
	return strconv.FormatFloat(v, 'g', 3, 64)
}

func xmlEscape(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;", `"`, "&quot;").Replace(s)
}
