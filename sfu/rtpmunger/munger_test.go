package rtpmunger

import "testing"

func TestUnwrapSeq(t *testing.T) {
	tests := []struct {
		name string
		in   []uint32
		want []uint64
	}{
		{"in order", []uint32{1, 2, 3}, []uint64{65537, 65538, 65539}},
		{"wrap", []uint32{65534, 65535, 0, 1}, []uint64{131070, 131071, 131072, 131073}},
		{"reorder across wrap", []uint32{65535, 1, 0, 2}, []uint64{131071, 131073, 131072, 131074}},
		{"older than first", []uint32{5, 3}, []uint64{65541, 65539}},
		{"jump forward", []uint32{10, 20000}, []uint64{65546, 85536}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			u := NewSeqUnwrapper()
			for i, v := range tt.in {
				if got := u.Unwrap(v); got != tt.want[i] {
					t.Fatalf("Unwrap(%d) #%d = %d, want %d", v, i, got, tt.want[i])
				}
			}
		})
	}
}

func TestUnwrapTimestampWrap(t *testing.T) {
	u := NewTSUnwrapper()
	a := u.Unwrap(0xFFFFFF00)
	b := u.Unwrap(0x00000100)
	if b-a != 0x200 {
		t.Fatalf("timestamp across wrap advanced by %d, want 512", b-a)
	}
	if c := u.Unwrap(0xFFFFFFF0); c >= b {
		t.Fatalf("late timestamp %d not below %d", c, b)
	}
}

func TestUnwrapManyCycles(t *testing.T) {
	u := NewSeqUnwrapper()
	var last uint64
	for i := 0; i < 5*65536; i += 7 {
		got := u.Unwrap(uint32(uint16(i)))
		if last != 0 && got != last+7 {
			t.Fatalf("step %d: %d after %d", i, got, last)
		}
		last = got
	}
}

func TestMungerContinuity(t *testing.T) {
	var m Munger
	// Source A starts at 1000; output starts at 65530 to cross the wrap.
	m.SetSource(1000, 90000, 65530, 4294967000, 0)
	type step struct {
		in      uint64
		ts      uint64
		drop    bool
		wantSeq uint16
		wantOK  bool
	}
	steps := []step{
		{in: 1000, ts: 90000, wantSeq: 65530, wantOK: true},
		{in: 1001, ts: 90000, wantSeq: 65531, wantOK: true},
		{in: 1002, ts: 93000, drop: true},
		{in: 1003, ts: 93000, wantSeq: 65532, wantOK: true},
		{in: 999, ts: 87000, wantOK: false}, // before the source started
		{in: 1004, ts: 96000, wantSeq: 65533, wantOK: true},
		{in: 1005, ts: 96000, wantSeq: 65534, wantOK: true},
		{in: 1006, ts: 99000, wantSeq: 65535, wantOK: true},
		{in: 1007, ts: 99000, wantSeq: 0, wantOK: true}, // wraps on the wire
	}
	for i, s := range steps {
		if s.drop {
			m.Drop(s.in)
			continue
		}
		seq, _, ok := m.Rewrite(s.in, s.ts)
		if ok != s.wantOK || (ok && seq != s.wantSeq) {
			t.Fatalf("step %d: Rewrite(%d) = %d, %v; want %d, %v", i, s.in, seq, ok, s.wantSeq, s.wantOK)
		}
	}
	// Switch to source B with unrelated numbering: output continues.
	m.SetSource(50000, 1234567, 0, 0, 3000)
	lastSeq, lastTS := m.LastOut()
	seq, ts, ok := m.Rewrite(50000, 1234567)
	if !ok || seq != uint16(lastSeq+1) || ts != uint32(lastTS+3000) {
		t.Fatalf("after switch got seq %d ts %d ok %v; want seq %d ts %d", seq, ts, ok, uint16(lastSeq+1), uint32(lastTS+3000))
	}
	if _, _, ok := m.Rewrite(1008, 99000); ok {
		t.Fatal("packet from the old source accepted after the switch")
	}
}

func TestMungerTimestampRewrite(t *testing.T) {
	var m Munger
	m.SetSource(10, 4294967290, 100, 50, 0)
	_, ts1, _ := m.Rewrite(10, 4294967290)
	_, ts2, _ := m.Rewrite(11, 4294967290+3000) // source timestamp wrapped (extended keeps going)
	if ts1 != 50 || ts2 != 3050 {
		t.Fatalf("timestamps %d, %d; want 50, 3050", ts1, ts2)
	}
}

func TestMungerNoAllocs(t *testing.T) {
	var m Munger
	m.SetSource(1, 1, 1, 1, 0)
	in := uint64(1)
	if a := testing.AllocsPerRun(1000, func() { in++; m.Rewrite(in, in*30) }); a != 0 {
		t.Fatalf("Rewrite allocates %.1f", a)
	}
}

func BenchmarkMungerRewrite(b *testing.B) {
	var m Munger
	u := NewSeqUnwrapper()
	m.SetSource(65537, 0, 1, 1, 0)
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		esn := u.Unwrap(uint32(uint16(i)))
		m.Rewrite(esn, uint64(i)*3000)
	}
}

func TestMungerPad(t *testing.T) {
	var m Munger
	if _, _, ok := m.Pad(); ok {
		t.Fatal("Pad before the first packet")
	}
	m.SetSource(1000, 90000, 65534, 5000, 0)
	var got []uint16
	seq, ts, _ := m.Rewrite(1000, 90000)
	got = append(got, seq)
	for range 2 {
		pseq, pts, ok := m.Pad()
		if !ok || pts != ts {
			t.Fatalf("pad: ok=%v ts=%d, want the last timestamp %d", ok, pts, ts)
		}
		got = append(got, pseq)
	}
	m.Drop(1001)
	seq, ts2, _ := m.Rewrite(1002, 93000)
	got = append(got, seq)
	want := []uint16{65534, 65535, 0, 1} // padding fills in, the drop leaves no gap, across the wrap
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("sequence numbers %v, want %v", got, want)
		}
	}
	if ts2 != ts+3000 {
		t.Errorf("timestamp after padding %d, want %d", ts2, ts+3000)
	}
}
