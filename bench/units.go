package bench

import (
	"fmt"
	"math"
	"strconv"
	"strings"
)

// ParseBitrate parses a bit rate in bits per second: "2000000", "2000k",
// "2M", "1.5M", "500kbps", "2Mbit". k/M/G are decimal (1000), as bit rates
// are everywhere in video.
func ParseBitrate(s string) (int64, error) {
	t := strings.TrimSpace(s)
	low := strings.ToLower(t)
	for _, suf := range []string{"bit/s", "bps", "bit", "b/s"} {
		if strings.HasSuffix(low, suf) {
			t = t[:len(t)-len(suf)]
			break
		}
	}
	return parseScaled(s, t)
}

// ParseRate parses a packet rate in packets per second with the same
// suffixes as ParseBitrate ("100k" = 100000 packets/s). An optional "pps"
// or "/s" suffix is accepted.
func ParseRate(s string) (int64, error) {
	t := strings.TrimSpace(s)
	low := strings.ToLower(t)
	for _, suf := range []string{"pps", "/s"} {
		if strings.HasSuffix(low, suf) {
			t = t[:len(t)-len(suf)]
			break
		}
	}
	return parseScaled(s, t)
}

func parseScaled(orig, t string) (int64, error) {
	t = strings.TrimSpace(t)
	if t == "" {
		return 0, fmt.Errorf("%w: %q", ErrBadUnit, orig)
	}
	mult := 1.0
	switch t[len(t)-1] {
	case 'k', 'K':
		mult = 1e3
	case 'm', 'M':
		mult = 1e6
	case 'g', 'G':
		mult = 1e9
	}
	if mult != 1 {
		t = t[:len(t)-1]
	}
	v, err := strconv.ParseFloat(t, 64)
	if err != nil || math.IsNaN(v) || math.IsInf(v, 0) || v <= 0 {
		return 0, fmt.Errorf("%w: %q", ErrBadUnit, orig)
	}
	r := math.Round(v * mult)
	if r < 1 || r > math.MaxInt64/2 {
		return 0, fmt.Errorf("%w: %q out of range", ErrBadUnit, orig)
	}
	return int64(r), nil
}

// FormatBitrate renders bits per second as "2.00 Mbit/s".
func FormatBitrate(bps float64) string {
	switch {
	case bps >= 1e9:
		return fmt.Sprintf("%.2f Gbit/s", bps/1e9)
	case bps >= 1e6:
		return fmt.Sprintf("%.2f Mbit/s", bps/1e6)
	case bps >= 1e3:
		return fmt.Sprintf("%.1f kbit/s", bps/1e3)
	}
	return fmt.Sprintf("%.0f bit/s", bps)
}

// Sweep is one --sweep flag: a parameter and the values it takes.
type Sweep struct {
	Param  string // "subscribers" or "publishers"
	Values []int
}

// sweepParams are the load parameters a sweep may vary.
var sweepParams = map[string]bool{"subscribers": true, "publishers": true, "rooms": true}

// ParseSweep parses "subscribers=10,50,100,200". Values must be positive
// and strictly increasing, so the chart's x axis is ordered.
func ParseSweep(s string) (Sweep, error) {
	name, list, ok := strings.Cut(strings.TrimSpace(s), "=")
	if !ok || !sweepParams[name] {
		return Sweep{}, fmt.Errorf("%w: sweep %q: want subscribers=, publishers= or rooms= and a comma-separated list", ErrBadUnit, s)
	}
	sw := Sweep{Param: name}
	for _, f := range strings.Split(list, ",") {
		v, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || v <= 0 {
			return Sweep{}, fmt.Errorf("%w: sweep value %q is not a positive integer", ErrBadUnit, f)
		}
		if n := len(sw.Values); n > 0 && v <= sw.Values[n-1] {
			return Sweep{}, fmt.Errorf("%w: sweep values must increase (%d after %d)", ErrBadUnit, v, sw.Values[n-1])
		}
		sw.Values = append(sw.Values, v)
	}
	return sw, nil
}
