package sfu

import (
	"slices"
	"sync"
	"testing"
	"time"
)

// TestFrameHold feeds packets as a reader does and checks which groups
// are forwarded together.
func TestFrameHold(t *testing.T) {
	type in struct {
		ts     uint64
		marker bool
	}
	tests := []struct {
		name string
		hold bool
		pkts []in
		want [][]uint64 // forwarded groups, by extended sequence number
	}{
		{"frame forwarded at its marker", true,
			[]in{{1, false}, {1, false}, {1, true}, {2, false}, {2, true}},
			[][]uint64{{0, 1, 2}, {3, 4}}},
		{"next frame flushes one without a marker", true,
			[]in{{1, false}, {1, false}, {2, true}},
			[][]uint64{{0, 1}, {2}}},
		{"audio goes at once", false,
			[]in{{1, false}, {2, false}, {3, true}},
			[][]uint64{{0}, {1}, {2}}},
		{"a large key frame goes in parts", true,
			append(slices.Repeat([]in{{7, false}}, frameSlots+1), in{7, true}),
			[][]uint64{seqs(0, frameSlots), {frameSlots, frameSlots + 1}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got [][]uint64
			f := newFrameHold(tt.hold, func(pkts []*packet) {
				var g []uint64
				for _, p := range pkts {
					if p.payload[0] != byte(p.esn) {
						t.Errorf("packet %d carries the bytes of another", p.esn)
					}
					g = append(g, p.esn)
				}
				got = append(got, g)
			})
			defer f.timer.Stop()
			for i, p := range tt.pkts {
				f.spareBuf[0] = byte(i)
				f.add(packet{esn: uint64(i), ets: p.ts, payload: f.spareBuf[:1]}, p.marker)
			}
			f.mu.Lock()
			defer f.mu.Unlock()
			if !slices.EqualFunc(got, tt.want, slices.Equal) {
				t.Fatalf("forwarded %v, want %v", got, tt.want)
			}
		})
	}
}

func seqs(from, n int) []uint64 {
	var s []uint64
	for i := range n {
		s = append(s, uint64(from+i))
	}
	return s
}

// TestFrameHoldExpires: a frame whose rest does not come is forwarded
// within holdMax (plus scheduling), not held until the next frame.
func TestFrameHoldExpires(t *testing.T) {
	var mu sync.Mutex
	var got int
	f := newFrameHold(true, func(pkts []*packet) { mu.Lock(); got += len(pkts); mu.Unlock() })
	defer f.close()
	start := time.Now()
	f.add(packet{ets: 1, payload: f.spareBuf[:1]}, false)
	f.add(packet{esn: 1, ets: 1, payload: f.spareBuf[:1]}, false)
	for time.Since(start) < 5*time.Second {
		mu.Lock()
		n := got
		mu.Unlock()
		if n == 2 {
			return
		}
		time.Sleep(time.Millisecond)
	}
	t.Fatal("the held packets were not forwarded after holdMax")
}
