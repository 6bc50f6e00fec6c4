package audiolevel

import "testing"

func TestMeter(t *testing.T) {
	const step = int64(20e6)
	tests := []struct {
		name     string
		level    uint8
		packets  int
		at       int64 // time of the check after the last packet
		speaking bool
	}{
		{"speech at -30 dBov", 30, 50, 0, true},
		{"quiet room at -70 dBov", 70, 50, 0, false},
		{"silence", 127, 50, 0, false},
		{"one loud packet is not speech", 10, 1, 0, false},
		{"speech gone stale (DTX)", 30, 50, Stale + 1, false},
		{"voice bit ignored", 0x80 | 30, 50, 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var m Meter
			now := int64(1e12)
			for range tt.packets {
				now += step
				m.Update(tt.level, now)
			}
			if got := m.Speaking(now + tt.at); got != tt.speaking {
				t.Fatalf("Speaking = %v (score %d), want %v", got, m.Score(now+tt.at), tt.speaking)
			}
		})
	}
}

func TestParseLevel(t *testing.T) {
	if l, ok := ParseLevel([]byte{0x9e}); !ok || l != 30 {
		t.Fatalf("ParseLevel = %d, %v", l, ok)
	}
	if _, ok := ParseLevel(nil); ok {
		t.Fatal("empty extension accepted")
	}
}

func TestUpdateNoAllocs(t *testing.T) {
	var m Meter
	if a := testing.AllocsPerRun(1000, func() { m.Update(30, 1) }); a != 0 {
		t.Fatalf("Update allocates %.1f", a)
	}
}
