package bench

import (
	"errors"
	"slices"
	"testing"
)

func TestParseBitrate(t *testing.T) {
	tests := []struct {
		in   string
		want int64
		err  bool
	}{
		{"2000000", 2000000, false},
		{"2000k", 2000000, false},
		{"2M", 2000000, false},
		{"1.5M", 1500000, false},
		{"500kbps", 500000, false},
		{"2Mbit", 2000000, false},
		{" 300K ", 300000, false},
		{"1G", 1000000000, false},
		{"", 0, true},
		{"k", 0, true},
		{"-2M", 0, true},
		{"0", 0, true},
		{"2X", 0, true},
		{"NaN", 0, true},
	}
	for _, tt := range tests {
		got, err := ParseBitrate(tt.in)
		if tt.err {
			if !errors.Is(err, ErrBadUnit) {
				t.Errorf("ParseBitrate(%q) = %d, %v; want ErrBadUnit", tt.in, got, err)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("ParseBitrate(%q) = %d, %v; want %d", tt.in, got, err, tt.want)
		}
	}
}

func TestParseRate(t *testing.T) {
	tests := []struct {
		in   string
		want int64
		err  bool
	}{
		{"100k", 100000, false},
		{"50000pps", 50000, false},
		{"2.5k/s", 2500, false},
		{"1M", 1000000, false},
		{"fast", 0, true},
	}
	for _, tt := range tests {
		got, err := ParseRate(tt.in)
		if (err != nil) != tt.err || got != tt.want {
			t.Errorf("ParseRate(%q) = %d, %v; want %d (error %v)", tt.in, got, err, tt.want, tt.err)
		}
	}
}

func TestParseSweep(t *testing.T) {
	tests := []struct {
		in    string
		param string
		vals  []int
		err   bool
	}{
		{"subscribers=10,50,100,200", "subscribers", []int{10, 50, 100, 200}, false},
		{"publishers=1, 2 ,5", "publishers", []int{1, 2, 5}, false},
		{"subscribers=10", "subscribers", []int{10}, false},
		{"listeners=1,2", "", nil, true},
		{"subscribers", "", nil, true},
		{"subscribers=10,5", "", nil, true},
		{"subscribers=10,10", "", nil, true},
		{"subscribers=0,5", "", nil, true},
		{"subscribers=1,,2", "", nil, true},
	}
	for _, tt := range tests {
		got, err := ParseSweep(tt.in)
		if tt.err {
			if err == nil {
				t.Errorf("ParseSweep(%q) = %+v, want error", tt.in, got)
			}
			continue
		}
		if err != nil || got.Param != tt.param || !slices.Equal(got.Values, tt.vals) {
			t.Errorf("ParseSweep(%q) = %+v, %v; want %s %v", tt.in, got, err, tt.param, tt.vals)
		}
	}
}

func TestFormatBitrate(t *testing.T) {
	for in, want := range map[float64]string{2e6: "2.00 Mbit/s", 1500: "1.5 kbit/s", 12: "12 bit/s", 3.2e9: "3.20 Gbit/s"} {
		if got := FormatBitrate(in); got != want {
			t.Errorf("FormatBitrate(%v) = %q, want %q", in, got, want)
		}
	}
}
