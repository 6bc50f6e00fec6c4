package bench

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"encoding/xml"
	"io"
	"strconv"
	"strings"
	"testing"
)

func sampleResult(subs int) *Result {
	return &Result{
		Scenario:               Scenario{Rooms: 1, Publishers: 5, Subscribers: subs, VideoBps: 2_000_000, DurationS: 60},
		ForwardedPacketsPerS:   Num(1000 * subs),
		ServerCPUCores:         Num(0.01 * float64(subs)),
		PacketsPerServerCPUS:   100000,
		ServerCPUSource:        "proc",
		CeilingPacketsPerCoreS: 120000,
		CeilingRatio:           0.833,
		LossRatio:              0,
		LatencyP50Ms:           1.5,
		LatencyP99Ms:           Num(float64(subs) / 10),
		ServerRSSBytes:         50 << 20,
		BenchCPUCores:          Unknown,
	}
}

// TestResultJSONShape pins the field names docs and scripts rely on and
// checks unknown values become null, not 0.
func TestResultJSONShape(t *testing.T) {
	var buf bytes.Buffer
	if err := sampleResult(30).WriteJSON(&buf); err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(buf.Bytes(), &m); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"forwarded_packets_per_s", "server_cpu_cores", "packets_per_server_cpu_s",
		"ceiling_packets_per_core_s", "ceiling_ratio", "loss_ratio", "latency_p50_ms", "latency_p99_ms",
		"server_rss_bytes", "bench_cpu_cores", "scenario"} {
		if _, ok := m[k]; !ok {
			t.Errorf("JSON lacks %q", k)
		}
	}
	if m["bench_cpu_cores"] != nil {
		t.Errorf("unknown bench_cpu_cores = %v, want null", m["bench_cpu_cores"])
	}
	if m["loss_ratio"] != 0.0 {
		t.Errorf("loss_ratio = %v, want 0", m["loss_ratio"])
	}
	if m["ceiling_ratio"] != 0.833 {
		t.Errorf("ceiling_ratio = %v", m["ceiling_ratio"])
	}
	var back Result
	if err := json.Unmarshal(buf.Bytes(), &back); err != nil {
		t.Fatal(err)
	}
	if back.BenchCPUCores.Known() || back.ForwardedPacketsPerS != 30000 {
		t.Errorf("round trip: %+v", back)
	}
}

func TestResultTable(t *testing.T) {
	var buf bytes.Buffer
	r := sampleResult(30)
	r.Notes = []string{"generator shares 2 cores with the server"}
	if err := r.WriteTable(&buf); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	for _, want := range []string{"30000 packets/s", "0.833", "n/a", "2.00 Mbit/s", "generator shares"} {
		if !strings.Contains(out, want) {
			t.Errorf("table lacks %q:\n%s", want, out)
		}
	}
	var cb bytes.Buffer
	c := &CeilingResult{Packets: 1000, WallS: 1, CeilingPacketsPerCoreS: 250000}
	if err := c.WriteTable(&cb); err != nil || !strings.Contains(cb.String(), "250000 packets per core-second") {
		t.Errorf("ceiling table: %v\n%s", err, cb.String())
	}
}

func TestWriteCSV(t *testing.T) {
	pts := []SweepPoint{{10, sampleResult(10)}, {50, sampleResult(50)}}
	var buf bytes.Buffer
	if err := WriteCSV(&buf, "subscribers", pts); err != nil {
		t.Fatal(err)
	}
	rows, err := csv.NewReader(&buf).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 3 || rows[0][0] != "subscribers" || rows[2][0] != "50" || rows[2][1] != "50000" {
		t.Fatalf("rows = %v", rows)
	}
	if rows[1][len(rows[1])-1] != "" {
		t.Errorf("unknown bench CPU written as %q, want empty", rows[1][len(rows[1])-1])
	}
}

// TestWriteSVG checks the chart is well-formed XML with one line per panel
// through every point, scaled into the drawing area.
func TestWriteSVG(t *testing.T) {
	pts := []SweepPoint{{10, sampleResult(10)}, {50, sampleResult(50)}, {100, sampleResult(100)}}
	var buf bytes.Buffer
	if err := WriteSVG(&buf, "subscribers", "shape <b> & co", pts); err != nil {
		t.Fatal(err)
	}
	dec := xml.NewDecoder(bytes.NewReader(buf.Bytes()))
	polylines, circles := 0, 0
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("not well-formed: %v\n%s", err, buf.String())
		}
		if se, ok := tok.(xml.StartElement); ok {
			switch se.Name.Local {
			case "polyline":
				polylines++
			case "circle":
				circles++
				for _, a := range se.Attr {
					if a.Name.Local != "cx" {
						continue
					}
					if x, err := strconv.ParseFloat(a.Value, 64); err != nil || x < marginL || x > chartW-marginR {
						t.Errorf("point outside plot area: cx=%s", a.Value)
					}
				}
			}
		}
	}
	if polylines != 3 || circles != 9 {
		t.Errorf("polylines %d circles %d, want 3 and 9", polylines, circles)
	}
	if !strings.Contains(buf.String(), "shape &lt;b&gt; &amp; co") {
		t.Error("title not escaped")
	}
}

func TestNiceCeil(t *testing.T) {
	for in, want := range map[float64]float64{0: 1, 0.7: 1, 3: 5, 13: 20, 101: 200, 45000: 50000, 1e5: 1e5} {
		if got := niceCeil(in); got != want {
			t.Errorf("niceCeil(%v) = %v, want %v", in, got, want)
		}
	}
}
