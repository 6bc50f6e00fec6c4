package rtpcodec

import (
	"bytes"
	"testing"
)

func TestREDPrimary(t *testing.T) {
	long := make([]byte, 0, 4*(maxREDBlocks+1)+1)
	for range maxREDBlocks + 1 {
		long = append(long, 0x80|111, 0, 0, 0)
	}
	long = append(long, 111)
	for _, tc := range []struct {
		name    string
		payload []byte
		want    []byte
		ok      bool
	}{
		{"primary only", []byte{111, 0xf8, 1, 2}, []byte{0xf8, 1, 2}, true},
		{"one older block", []byte{0x80 | 111, 0x0f, 0x00, 0x02, 111, 9, 9, 0xf8, 7}, []byte{0xf8, 7}, true},
		{"two older blocks", []byte{0x80 | 111, 0x1e, 0x00, 0x01, 0x80 | 111, 0x0f, 0x00, 0x01, 111, 8, 9, 0xf8}, []byte{0xf8}, true},
		{"ten-bit length", append([]byte{0x80 | 111, 0x0f, 0x01, 0x00, 111}, append(make([]byte, 256), 0xf8)...), []byte{0xf8}, true},
		{"empty primary", []byte{111}, []byte{}, true},
		{"empty", nil, nil, false},
		{"header cut short", []byte{0x80 | 111, 0x0f}, nil, false},
		{"no primary header", []byte{0x80 | 111, 0, 0, 0}, nil, false},
		{"block past the end", []byte{0x80 | 111, 0x0f, 0x00, 0x05, 111, 1, 2}, nil, false},
		{"too many blocks", long, nil, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := REDPrimary(tc.payload)
			if ok != tc.ok || !bytes.Equal(got, tc.want) {
				t.Errorf("REDPrimary(%x) = %x, %v; want %x, %v", tc.payload, got, ok, tc.want, tc.ok)
			}
		})
	}
}

func FuzzREDPrimary(f *testing.F) {
	f.Add([]byte{0x80 | 111, 0x0f, 0x00, 0x02, 111, 9, 9, 0xf8, 7})
	f.Add([]byte{111})
	f.Fuzz(func(t *testing.T, p []byte) {
		got, ok := REDPrimary(p)
		if !ok {
			return
		}
		if len(got) > len(p) || (len(got) > 0 && &got[len(got)-1] != &p[len(p)-1]) {
			t.Fatalf("primary %x is not the tail of %x", got, p)
		}
	})
}

func TestREDIsAudio(t *testing.T) {
	if c := FromMimeType("audio/red"); c != RED || !IsKeyframe(c, nil) {
		t.Fatalf("audio/red: %v, key frame %v", c, IsKeyframe(c, nil))
	}
}
