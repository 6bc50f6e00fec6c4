package rtpstats

import "testing"

const ms = int64(1e6)

func TestReportLossAndSequence(t *testing.T) {
	r := NewReceiver(90000)
	if _, ok := r.Report(1, 0); ok {
		t.Fatal("report before any packet")
	}
	now := int64(1e12)
	for i, esn := range []uint64{65536 + 10, 65536 + 11, 65536 + 14, 65536 + 15} { // 12, 13 lost
		r.Update(esn, uint32(i*3000), now+int64(i)*33*ms)
	}
	rep, ok := r.Report(42, now)
	if !ok {
		t.Fatal("no report")
	}
	if rep.SSRC != 42 || rep.TotalLost != 2 || rep.LastSequenceNumber != 15 {
		t.Fatalf("report %+v, want ssrc 42, 2 lost, highest 15", rep)
	}
	if want := uint8(2 * 256 / 6); rep.FractionLost != want {
		t.Fatalf("fraction lost %d, want %d", rep.FractionLost, want)
	}
	// Next interval: nothing lost.
	r.Update(65536+16, 12000, now+200*ms)
	if rep, _ := r.Report(42, now); rep.FractionLost != 0 || rep.TotalLost != 2 {
		t.Fatalf("second interval %+v, want fraction 0, total 2", rep)
	}
}

func TestJitter(t *testing.T) {
	steady := NewReceiver(90000)
	bumpy := NewReceiver(90000)
	now := int64(1e12)
	for i := range 100 {
		steady.Update(uint64(65536+i), uint32(i*3000), now+int64(i)*33333333)
		jit := int64(0)
		if i%2 == 1 {
			jit = 10 * ms
		}
		bumpy.Update(uint64(65536+i), uint32(i*3000), now+int64(i)*33333333+jit)
	}
	s, _ := steady.Report(1, now)
	b, _ := bumpy.Report(1, now)
	if s.Jitter > 2 || b.Jitter < 500 {
		t.Fatalf("jitter steady %d, bumpy %d (clock units); want ~0 and ~900", s.Jitter, b.Jitter)
	}
}

func TestDelaySinceSenderReport(t *testing.T) {
	r := NewReceiver(48000)
	r.Update(65536, 0, 0)
	r.SenderReport(0x1122334455667788, 1e12)
	rep, _ := r.Report(1, 1e12+500*ms)
	if rep.LastSenderReport != 0x33445566 || rep.Delay != 32768 {
		t.Fatalf("LSR %#x DLSR %d, want 0x33445566 and 32768", rep.LastSenderReport, rep.Delay)
	}
}

func TestUpdateNoAllocs(t *testing.T) {
	r := NewReceiver(90000)
	esn := uint64(65536)
	if a := testing.AllocsPerRun(1000, func() { esn++; r.Update(esn, uint32(esn*3000), int64(esn)*ms) }); a != 0 {
		t.Fatalf("Update allocates %.1f", a)
	}
}

func BenchmarkUpdate(b *testing.B) {
	r := NewReceiver(90000)
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		r.Update(uint64(65536+i), uint32(i*3000), int64(i)*ms)
	}
}
