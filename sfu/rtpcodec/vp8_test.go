package rtpcodec

import (
	"bytes"
	"testing"
)

func TestVP8Numbers(t *testing.T) {
	for _, tt := range []struct {
		name    string
		p       []byte
		ok      bool
		pid     uint16
		hasPID  bool
		tl0     uint8
		hasTL0  bool
		pid2    uint16
		tl02    uint8
		rewrote []byte
	}{
		{"no extension", []byte{0x10, 0x9d}, true, 0, false, 0, false, 5, 6, []byte{0x10, 0x9d}},
		{"15-bit id, TL0PICIDX and TID", []byte{0x90, 0xe0, 0x81, 0x02, 0x07, 0x40, 0x9d}, true, 0x102, true, 7, true, 0x7ffe, 9, []byte{0x90, 0xe0, 0xff, 0xfe, 0x09, 0x40, 0x9d}},
		{"7-bit id only", []byte{0x90, 0x80, 0x05, 0x9d}, true, 5, true, 0, false, 0x1ff, 3, []byte{0x90, 0x80, 0x7f, 0x9d}},
		{"TL0PICIDX only", []byte{0x80, 0x40, 0x11}, true, 0, false, 0x11, true, 1, 0x12, []byte{0x80, 0x40, 0x12}},
		{"empty", nil, false, 0, false, 0, false, 0, 0, nil},
		{"extension byte missing", []byte{0x90}, false, 0, false, 0, false, 0, 0, []byte{0x90}},
		{"15-bit id cut short", []byte{0x90, 0x80, 0x81}, false, 0, false, 0, false, 0, 0, []byte{0x90, 0x80, 0x81}},
		{"TL0PICIDX cut short", []byte{0x90, 0xc0, 0x05}, false, 0, false, 0, false, 0, 0, []byte{0x90, 0xc0, 0x05}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			n, ok := ParseVP8Numbers(tt.p)
			if ok != tt.ok || n.PictureID != tt.pid || n.HasPictureID() != tt.hasPID || n.TL0PicIdx != tt.tl0 || n.HasTL0PicIdx() != tt.hasTL0 {
				t.Fatalf("ParseVP8Numbers = %+v, %v", n, ok)
			}
			p := bytes.Clone(tt.p)
			n.Put(p, tt.pid2, tt.tl02)
			if !bytes.Equal(p, tt.rewrote) {
				t.Errorf("Put(%#x, %d) = % x, want % x", tt.pid2, tt.tl02, p, tt.rewrote)
			}
		})
	}
}

func FuzzVP8Numbers(f *testing.F) {
	f.Add([]byte{0x90, 0xe0, 0x81, 0x02, 0x07, 0x40, 0x9d})
	f.Add([]byte{0x90, 0x80, 0x05})
	f.Fuzz(func(t *testing.T, p []byte) {
		n, ok := ParseVP8Numbers(p)
		if !ok {
			return
		}
		q := bytes.Clone(p)
		n.Put(q, n.PictureID, n.TL0PicIdx)
		if !bytes.Equal(p, q) {
			t.Fatalf("putting back what was read changed % x to % x", p, q)
		}
	})
}

func BenchmarkParseVP8Numbers(b *testing.B) {
	p := []byte{0x90, 0xe0, 0x81, 0x02, 0x07, 0x40, 0x9d, 0x01, 0x2a}
	for b.Loop() {
		n, ok := ParseVP8Numbers(p)
		if !ok || n.PictureID != 0x102 {
			b.Fatal(n)
		}
	}
}
