package bwe

import "testing"

func TestBudget(t *testing.T) {
	var b Budget
	if !b.Allow(0) {
		t.Fatal("unlimited budget refused a frame")
	}
	b.SetRate(1_000_000) // 1 Mbit/s
	now := int64(1e9)
	b.Allow(now)
	// A 30 fps stream of 5 kB frames is 1.2 Mbit/s: it must be held back
	// to about 1 Mbit/s over ten seconds.
	sent := 0
	for i := range 300 {
		now += 33_333_333
		if b.Allow(now) {
			for range 5 {
				b.Spend(1000, now)
			}
			sent++
		}
		_ = i
	}
	bits := float64(sent * 5000 * 8)
	if rate := bits / 10; rate > 1.1e6 || rate < 0.8e6 {
		t.Fatalf("sent %.0f bit/s through a 1 Mbit/s budget", rate)
	}
	b.SetRate(0)
	if !b.Allow(now) {
		t.Fatal("removing the limit did not allow frames")
	}
}

func TestPickLayer(t *testing.T) {
	rates := []uint64{150_000, 500_000, 1_500_000}
	tests := []struct {
		name     string
		rates    []uint64
		estimate uint64
		max      int
		want     int
	}{
		{"unlimited", rates, 0, 2, 2},
		{"plenty", rates, 5_000_000, 2, 2},
		{"tile wants mid", rates, 5_000_000, 1, 1},
		{"estimate fits mid", rates, 1_000_000, 2, 1},
		{"estimate fits low only", rates, 300_000, 2, 0},
		{"nothing fits: lowest", rates, 50_000, 2, 0},
		{"top layer missing", []uint64{150_000, 500_000, 0}, 0, 2, 1},
		{"low layer missing", []uint64{0, 500_000, 1_500_000}, 100_000, 2, 1},
		{"nothing received", []uint64{0, 0, 0}, 0, 2, -1},
		{"single stream", []uint64{2_000_000}, 0, 2, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := PickLayer(tt.rates, tt.estimate, tt.max); got != tt.want {
				t.Fatalf("PickLayer = %d, want %d", got, tt.want)
			}
		})
	}
}

func TestBudgetDebt(t *testing.T) {
	var b Budget
	if d := b.Debt(1); d != 0 {
		t.Fatalf("unlimited budget has debt %v", d)
	}
	b.SetRate(800_000)
	now := int64(1e9)
	b.Debt(now)
	b.Spend(50_000, now) // 400 kbit: half a second of the estimate
	if d := b.Debt(now); d < 0.49 || d > 0.51 {
		t.Errorf("debt %.2f s after sending 0.5 s ahead, want 0.5", d)
	}
	if d := b.Debt(now + 250e6); d < 0.24 || d > 0.26 {
		t.Errorf("debt %.2f s a quarter second later, want 0.25", d)
	}
	if d := b.Debt(now + 600e6); d != 0 {
		t.Errorf("debt %.2f s once paid off, want 0", d)
	}
}

func TestBudgetNoAllocs(t *testing.T) {
	var b Budget
	b.SetRate(1e6)
	now := int64(0)
	if a := testing.AllocsPerRun(1000, func() { now += 1e6; b.Allow(now); b.Spend(1200, now) }); a != 0 {
		t.Fatalf("allocates %.1f", a)
	}
}

func TestBudgetCap(t *testing.T) {
	var b Budget
	b.SetRate(100_000)
	now := int64(1e9)
	b.Spend(100_000, now) // 8 s of the estimate
	b.Cap(1)
	if got := b.Debt(now); got < 0.99 || got > 1.01 {
		t.Fatalf("debt %.2f s after Cap(1), want 1 s", got)
	}
	b.Cap(2) // never adds debt
	if got := b.Debt(now); got > 1.01 {
		t.Fatalf("debt %.2f s after Cap(2), want 1 s", got)
	}
}
