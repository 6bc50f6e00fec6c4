package nack

import (
	"slices"
	"testing"
)

func TestMissing(t *testing.T) {
	tests := []struct {
		name string
		push []uint64
		want []uint16
	}{
		{"none lost", []uint64{1000, 1001, 1002}, nil},
		{"one gap", []uint64{1000, 1001, 1004}, []uint16{1002, 1003}},
		{"filled by reorder", []uint64{1000, 1002, 1001, 1003}, nil},
		{"wrap on the wire", []uint64{65534, 65535, 65538}, []uint16{0, 1}},
		{"jump past window forgets", []uint64{1000, 1000 + Window + 5}, nil},
		{"too old ignored", []uint64{5000, 5001, 5002 - Window}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var tr Tracker
			for _, s := range tt.push {
				tr.Push(s + 65536) // extended numbers start above one cycle
			}
			got := tr.Missing(nil)
			if !slices.Equal(got, tt.want) {
				t.Fatalf("Missing = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestMissingGivesUpAfterMaxTries(t *testing.T) {
	var tr Tracker
	tr.Push(100)
	tr.Push(102)
	for i := range MaxTries {
		if got := tr.Missing(nil); !slices.Equal(got, []uint16{101}) {
			t.Fatalf("try %d: Missing = %v", i, got)
		}
	}
	if got := tr.Missing(nil); len(got) != 0 {
		t.Fatalf("after %d tries Missing = %v, want none", MaxTries, got)
	}
	tr.Push(101) // the retransmission arrives
	tr.Push(104)
	if got := tr.Missing(nil); !slices.Equal(got, []uint16{103}) {
		t.Fatalf("Missing = %v, want [103]", got)
	}
}

func TestTrackerNoAllocs(t *testing.T) {
	var tr Tracker
	dst := make([]uint16, 0, Window)
	esn := uint64(1 << 20)
	if a := testing.AllocsPerRun(1000, func() {
		esn += 2 // lose every other packet
		tr.Push(esn)
		dst = tr.Missing(dst[:0])
	}); a != 0 {
		t.Fatalf("Push+Missing allocate %.1f times", a)
	}
}

func BenchmarkPush(b *testing.B) {
	var tr Tracker
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		tr.Push(uint64(i))
	}
}

func BenchmarkMissing(b *testing.B) {
	var tr Tracker
	for i := uint64(0); i < Window; i += 3 {
		tr.Push(i)
	}
	dst := make([]uint16, 0, Window)
	b.ReportAllocs()
	for b.Loop() {
		tr.tries = [Window]uint8{}
		dst = tr.Missing(dst[:0])
	}
}
