package sendside

import (
	"math/rand/v2"
	"testing"
	"time"

	"github.com/pion/interceptor/pkg/twcc"
	"github.com/pion/rtcp"
)

// link is a simulated downlink: a bottleneck of rate bits per second with
// a drop-tail queue of at most maxQueue, a base delay, random loss and
// jitter. The subscriber records arrivals as a browser does and reports
// every 100 ms.
type link struct {
	rate     float64
	maxQueue time.Duration
	delay    time.Duration
	loss     float64
	jitter   time.Duration
	// lostReports is the share of reports that never reach the SFU (a
	// browser addresses some to the RTX stream).
	lostReports float64
}

// run sends for d at what send returns (bits per second, given the
// estimate) in 30 frames a second of 1200-byte packets, and returns the
// estimate at the end, its lowest in the last second and its highest in
// the second half.
func (l link) run(t *testing.T, d time.Duration, send func(est uint64) float64) (final, lowLast, high uint64) {
	t.Helper()
	rng := rand.New(rand.NewPCG(1, 2))
	start := time.Unix(1_700_000_000, 0)
	h := NewHistory(start.UnixNano())
	e := NewEstimator(h)
	rec := twcc.NewRecorder(1)
	type report struct {
		at time.Duration
		fb *rtcp.TransportLayerCC
	}
	var reports []report
	var queueFree time.Duration // when the bottleneck is next free
	nextFeedback := 100 * time.Millisecond
	lowLast = ^uint64(0)
	const size = 1200
	var credit float64 // bits due, carried from frame to frame
	for now := time.Duration(0); now < d; now += 33 * time.Millisecond {
		// Deliver the reports due.
		for len(reports) > 0 && reports[0].at <= now {
			est := e.OnFeedback(reports[0].fb, start.Add(reports[0].at))
			if reports[0].at > d-time.Second {
				lowLast = min(lowLast, est)
			}
			if reports[0].at > d/2 {
				high = max(high, est)
			}
			reports = reports[1:]
		}
		credit += send(e.Rate()) / 30
		for n := 0; credit >= size*8; n++ {
			credit -= size * 8
			at := now + time.Duration(n)*50*time.Microsecond
			seq := h.Record(size, start.Add(at).UnixNano())
			if rng.Float64() < l.loss {
				continue
			}
			begin := max(queueFree, at)
			if begin-at > l.maxQueue {
				continue // the queue is full
			}
			queueFree = begin + time.Duration(float64(size*8)/l.rate*float64(time.Second))
			arrive := queueFree + l.delay
			if l.jitter > 0 {
				arrive += time.Duration(rng.Int64N(int64(2*l.jitter))) - l.jitter
			}
			rec.Record(1, seq, arrive.Microseconds())
		}
		for nextFeedback <= now {
			for _, p := range rec.BuildFeedbackPacket() {
				if fb, ok := p.(*rtcp.TransportLayerCC); ok && rng.Float64() >= l.lostReports {
					reports = append(reports, report{at: nextFeedback + l.delay, fb: fb})
				}
			}
			nextFeedback += 100 * time.Millisecond
		}
	}
	return e.Rate(), lowLast, high
}

func fixed(bps float64) func(uint64) float64 { return func(uint64) float64 { return bps } }

// probing sends 1.2 times the estimate, as the SFU's padding does, over
// media of 300 kbit/s that flows whatever the estimate.
func probing(est uint64) float64 { return max(1.2*float64(est), 300e3) }

func TestEstimator(t *testing.T) {
	tests := []struct {
		name     string
		link     link
		send     func(uint64) float64
		for_     time.Duration
		min, max uint64 // the estimate at the end
		high     uint64 // the most it may reach in the second half; 0: max
	}{
		{"calm link grows with what arrives", link{rate: 5e6, maxQueue: time.Second, delay: 20 * time.Millisecond}, fixed(1e6), 10 * time.Second, 1_000_000, 1_800_000, 0},
		{"overfilled link falls to it", link{rate: 500e3, maxQueue: time.Second, delay: 20 * time.Millisecond}, fixed(1e6), 10 * time.Second, 0, 600_000, 0},
		{"probing climbs a wide link", link{rate: 10e6, maxQueue: time.Second, delay: 20 * time.Millisecond}, probing, 15 * time.Second, 2_000_000, 100_000_000, 0},
		{"probing stays under a narrow link", link{rate: 800e3, maxQueue: 300 * time.Millisecond, delay: 20 * time.Millisecond}, probing, 20 * time.Second, 300_000, 1_000_000, 960_000},
		{"half the reports lost, bursts do not overstate a narrow link", link{rate: 500e3, maxQueue: 300 * time.Millisecond, delay: 20 * time.Millisecond, lostReports: 0.5}, probing, 20 * time.Second, 200_000, 600_000, 600_000},
		{"heavy loss lowers it", link{rate: 10e6, maxQueue: time.Second, delay: 20 * time.Millisecond, loss: 0.3}, fixed(1e6), 10 * time.Second, 0, 700_000, 0},
		{"jitter alone does not sink it", link{rate: 10e6, maxQueue: time.Second, delay: 100 * time.Millisecond, jitter: 20 * time.Millisecond, loss: 0.05}, fixed(600e3), 20 * time.Second, 400_000, 10_000_000, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, low, high := tt.link.run(t, tt.for_, tt.send)
			t.Logf("estimate %d bit/s at the end, lowest in the last second %d, highest in the second half %d", got, low, high)
			if got < tt.min || got > tt.max {
				t.Errorf("estimate %d bit/s, want %d-%d", got, tt.min, tt.max)
			}
			if tt.high != 0 && high > tt.high {
				t.Errorf("estimate reached %d bit/s, want at most %d", high, tt.high)
			}
		})
	}
}
