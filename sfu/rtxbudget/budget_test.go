package rtxbudget

import (
	"math"
	"testing"
	"time"
)

func TestShare(t *testing.T) {
	tests := []struct{ loss, want float64 }{
		{0, MaxShare}, {LowLoss, MaxShare}, {0.11, 0.15}, {HeavyLoss, MinShare}, {0.365, MinShare}, {1, MinShare},
	}
	for _, tt := range tests {
		if got := Share(tt.loss); math.Abs(got-tt.want) > 1e-9 {
			t.Errorf("Share(%v) = %v, want %v", tt.loss, got, tt.want)
		}
	}
}

func TestWindow(t *testing.T) {
	ms := time.Millisecond
	tests := []struct{ rtt, jitter, want time.Duration }{
		{0, 0, MinWindow},
		{100 * ms, 10 * ms, 340 * ms},
		{time.Second, 0, MaxWindow},
	}
	for _, tt := range tests {
		if got := Window(tt.rtt, tt.jitter); got != tt.want {
			t.Errorf("Window(%v, %v) = %v, want %v", tt.rtt, tt.jitter, got, tt.want)
		}
	}
}

// TestBudgetBoundsRepair: over ten seconds of NACKs for every packet, what
// is resent stays within the share of the rate plus one burst, and the
// share follows the loss.
func TestBudgetBoundsRepair(t *testing.T) {
	const bps = 2_000_000
	tests := []struct {
		loss  float64
		share float64
	}{{0, MaxShare}, {0.365, MinShare}}
	for _, tt := range tests {
		start := time.Unix(1000, 0)
		b := New()
		b.SetRate(bps, start)
		b.SetLoss(tt.loss, tt.loss, start)
		sent := 0
		const pkt = 1200
		// 200 NACKed packets a second, each asked for as soon as sent.
		for i := 0; i < 2000; i++ {
			now := start.Add(time.Duration(i) * 5 * time.Millisecond)
			if b.Allow(pkt, now, now) == Send {
				sent += pkt
			}
		}
		limit := tt.share*bps/8*10 + tt.share*bps/8*burstTime.Seconds()
		if float64(sent) > limit || float64(sent) < limit*0.8 {
			t.Errorf("loss %v: resent %d bytes in 10 s, want about %.0f (share %v)", tt.loss, sent, limit, tt.share)
		}
	}
}

func TestTooOld(t *testing.T) {
	now := time.Unix(1000, 0)
	b := New()
	b.SetRate(1_000_000, now)
	b.SetPath(50*time.Millisecond, 5*time.Millisecond) // window 170 ms
	if v := b.Allow(100, now.Add(-200*time.Millisecond), now); v != TooOld {
		t.Errorf("packet 200 ms old: %v, want too_old", v)
	}
	if v := b.Allow(100, now.Add(-100*time.Millisecond), now); v != Send {
		t.Errorf("packet 100 ms old: %v, want send", v)
	}
	if b.Congested() {
		t.Error("congested without loss")
	}
	b.SetLoss(0.15, 0.15, now)
	if !b.Congested() {
		t.Error("not congested at 15% loss")
	}
}

// Heavy loss is two reports of it in a row, of the media: one report of a
// fifth lost is what a small stream on a link losing 5 % at random shows
// now and then, and lost padding is a probe's overfill.
func TestHeavyLossTwoReports(t *testing.T) {
	now := time.Unix(1000, 0)
	b := New()
	for _, tt := range []struct {
		loss, media float64
		heavy       bool
	}{
		{0.05, 0.05, false},
		{0.24, 0.24, false}, // one unlucky second
		{0.04, 0.04, false},
		{0.30, 0.30, false},
		{0.25, 0.25, true}, // a link too narrow
		{0.60, 0.60, true},
		{0.10, 0.10, false},
		{0.40, 0.02, false}, // a probe overfilled the link: its padding lost
		{0.45, 0.03, false},
	} {
		b.SetLoss(tt.loss, tt.media, now)
		if b.Heavy() != tt.heavy {
			t.Errorf("after a report of %.0f%% (media %.0f%%): heavy %v, want %v", 100*tt.loss, 100*tt.media, b.Heavy(), tt.heavy)
		}
	}
	if !b.Congested() {
		t.Error("not congested at 45 % lost of all that was sent")
	}
}

func TestAllowDoesNotAllocate(t *testing.T) {
	b := New()
	now := time.Now()
	b.SetRate(1_000_000, now)
	if n := testing.AllocsPerRun(1000, func() { b.Allow(1200, now, now) }); n != 0 {
		t.Errorf("Allow allocates %v times", n)
	}
}
