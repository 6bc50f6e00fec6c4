package sendside

import (
	"sync"
	"testing"
	"time"

	"github.com/pion/rtcp"
)

func TestHistory(t *testing.T) {
	start := time.Unix(1_700_000_000, 0).UnixNano()
	h := NewHistory(start)
	tests := []struct {
		size     int
		after    time.Duration
		wantSize int
	}{
		{1200, 0, 1200},
		{0, time.Millisecond, 0},
		{5000, 37 * time.Hour, maxSize}, // capped, as is nothing a subscriber gets
	}
	for i, tt := range tests {
		seq := h.Record(tt.size, start+int64(tt.after))
		if int(seq) != i {
			t.Fatalf("packet %d numbered %d", i, seq)
		}
		us, size, ok := h.lookup(seq)
		if !ok || size != tt.wantSize || us != tt.after.Microseconds() {
			t.Errorf("lookup(%d) = %d µs, %d bytes, %v; want %d µs, %d bytes", seq, us, size, ok, tt.after.Microseconds(), tt.wantSize)
		}
	}
	// A number historySize on reuses the slot: the old packet is gone.
	for range historySize {
		h.Record(100, start)
	}
	if _, _, ok := h.lookup(0); ok {
		t.Error("packet 0 still remembered after its slot was reused")
	}
	if _, size, ok := h.lookup(uint16(historySize)); !ok || size != 100 {
		t.Errorf("packet %d not remembered", historySize)
	}
}

// TestHistoryConcurrent: the DownTracks of one subscriber record from
// several goroutines; each number is given once.
func TestHistoryConcurrent(t *testing.T) {
	h := NewHistory(0)
	var wg sync.WaitGroup
	seen := make([][]uint16, 4)
	for g := range seen {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 1000 {
				seen[g] = append(seen[g], h.Record(100, 1))
			}
		}()
	}
	wg.Wait()
	all := map[uint16]bool{}
	for _, s := range seen {
		for _, seq := range s {
			if all[seq] {
				t.Fatalf("number %d given twice", seq)
			}
			all[seq] = true
		}
	}
}

func BenchmarkRecord(b *testing.B) {
	h := NewHistory(0)
	b.ReportAllocs()
	for i := range b.N {
		h.Record(1200, int64(i))
	}
}

// FuzzFeedback: a report is the subscriber's to write; none may panic or
// take the estimate out of its range.
func FuzzFeedback(f *testing.F) {
	fb := rtcp.TransportLayerCC{
		Header:             rtcp.Header{Count: rtcp.FormatTCC, Type: rtcp.TypeTransportSpecificFeedback, Padding: true},
		BaseSequenceNumber: 0, PacketStatusCount: 3,
		PacketChunks: []rtcp.PacketStatusChunk{&rtcp.RunLengthChunk{PacketStatusSymbol: rtcp.TypeTCCPacketReceivedSmallDelta, RunLength: 3}},
		RecvDeltas:   []*rtcp.RecvDelta{{Type: rtcp.TypeTCCPacketReceivedSmallDelta, Delta: 1000}, {Type: rtcp.TypeTCCPacketReceivedSmallDelta, Delta: 250}, {Type: rtcp.TypeTCCPacketReceivedSmallDelta, Delta: 0}},
	}
	b, err := fb.Marshal()
	if err != nil {
		f.Fatal(err)
	}
	f.Add(b)
	f.Fuzz(func(t *testing.T, raw []byte) {
		pkts, err := rtcp.Unmarshal(raw)
		if err != nil {
			return
		}
		h := NewHistory(0)
		for range 100 {
			h.Record(1000, 1)
		}
		e := NewEstimator(h)
		for _, p := range pkts {
			if fb, ok := p.(*rtcp.TransportLayerCC); ok {
				if r := e.OnFeedback(fb, time.Unix(0, 2)); r != 0 && (r < minRate || r > maxRate) {
					t.Fatalf("estimate %d out of range", r)
				}
			}
		}
	})
}
