package bench

import (
	"bytes"
	"errors"
	"testing"
	"time"

	"github.com/monkeythorn/meet/e2ee"
)

func TestFrameSourceBitrate(t *testing.T) {
	tests := []struct {
		name string
		cfg  FrameConfig
	}{
		{"2M 30fps", FrameConfig{Bitrate: 2_000_000}},
		{"500k 30fps key every 60", FrameConfig{Bitrate: 500_000, KeyEvery: 60}},
		{"150k 15fps", FrameConfig{Bitrate: 150_000, FPS: 15}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := NewFrameSource(tt.cfg)
			fps := tt.cfg.FPS
			if fps == 0 {
				fps = 30
			}
			if s.FrameTime() != time.Second/time.Duration(fps) {
				t.Fatalf("FrameTime = %v", s.FrameTime())
			}
			total, keys := 0, 0
			frames := fps * 60 // one minute
			var keyAt []int
			for i := range frames {
				n, key := s.Next()
				total += n
				if key {
					keys++
					keyAt = append(keyAt, i)
				}
			}
			got := float64(total) * 8 / 60
			if d := got/float64(tt.cfg.Bitrate) - 1; d > 0.05 || d < -0.05 {
				t.Errorf("average bit rate %.0f, want %d ±5%%", got, tt.cfg.Bitrate)
			}
			if keyAt[0] != 0 {
				t.Error("first frame is not a key frame")
			}
			gap := keyAt[1] - keyAt[0]
			if secs := float64(gap) / float64(fps); secs < 2 || secs > 3 {
				t.Errorf("key frame every %.2f s, want 2-3 s", secs)
			}
		})
	}
}

func TestFrameSourceForceKey(t *testing.T) {
	s := NewFrameSource(FrameConfig{Bitrate: 1_000_000})
	s.Next()
	for range 5 {
		if _, key := s.Next(); key {
			t.Fatal("unexpected key frame")
		}
	}
	s.ForceKey()
	if _, key := s.Next(); !key {
		t.Fatal("ForceKey did not make a key frame")
	}
	if _, key := s.Next(); key {
		t.Fatal("two key frames in a row")
	}
}

func TestBuildAndParseFrame(t *testing.T) {
	for _, key := range []bool{true, false} {
		f := BuildFrame(nil, key, 5000, 123456789, 42)
		if len(f) != 5000 {
			t.Fatalf("len = %d", len(f))
		}
		if IsKeyFrame(f) != key {
			t.Fatalf("key = %v, IsKeyFrame = %v", key, IsKeyFrame(f))
		}
		ns, n, err := ParseStamp(f[:MinFrameSize])
		if err != nil || ns != 123456789 || n != 42 {
			t.Fatalf("ParseStamp = %d %d %v", ns, n, err)
		}
	}
	if f := BuildFrame(nil, false, 1, 0, 0); len(f) != MinFrameSize {
		t.Errorf("tiny frame len = %d, want MinFrameSize", len(f))
	}
	if _, _, err := ParseStamp([]byte{0x11, 0, 0, 'X', 'X'}); !errors.Is(err, ErrNotBenchFrame) {
		t.Errorf("foreign frame: err = %v", err)
	}
}

// TestFrameE2EE checks the frame survives the Go E2EE implementation and
// that the stamp is not readable without decrypting, while the key frame
// bit the SFU reads stays clear.
func TestFrameE2EE(t *testing.T) {
	rk, err := e2ee.DeriveRoomKey("AAAAAAAAAAAAAAAAAAAAAA", "abcdefghj")
	if err != nil {
		t.Fatal(err)
	}
	sk, err := rk.Frame("pub1", e2ee.SourceCamera, e2ee.JoinSalt{})
	if err != nil {
		t.Fatal(err)
	}
	iv := e2ee.NewIVSequence()
	for _, key := range []bool{true, false} {
		f := BuildFrame(nil, key, 3000, 99, 7)
		enc, err := sk.EncryptFrame(nil, e2ee.CodecVP8, key, iv.Next(), 0, f)
		if err != nil {
			t.Fatal(err)
		}
		if IsKeyFrame(enc) != key {
			t.Error("key frame bit not clear after E2EE")
		}
		if _, _, err := ParseStamp(enc); err == nil {
			t.Error("stamp readable in an encrypted frame")
		}
		dec, err := sk.DecryptFrame(nil, e2ee.CodecVP8, enc)
		if err != nil || !bytes.Equal(dec, f) {
			t.Fatalf("decrypt: %v", err)
		}
	}
}

func TestPacketizeRoundTrip(t *testing.T) {
	frame := BuildFrame(nil, true, 4000, 5, 6)
	var got []byte
	var firsts, lasts, n int
	err := Packetize(nil, frame, 1100, func(p []byte, last bool) error {
		n++
		if len(p) > 1100 {
			t.Errorf("payload %d bytes > 1100", len(p))
		}
		start, first, ok := VP8PayloadStart(p)
		if !ok {
			t.Fatal("descriptor not parsed")
		}
		if first {
			firsts++
		}
		if last {
			lasts++
		}
		got = append(got, p[start:]...)
		return nil
	})
	if err != nil || !bytes.Equal(got, frame) || firsts != 1 || lasts != 1 || n != 4 {
		t.Fatalf("round trip: err %v equal %v firsts %d lasts %d packets %d", err, bytes.Equal(got, frame), firsts, lasts, n)
	}
}

func TestVP8PayloadStart(t *testing.T) {
	tests := []struct {
		name  string
		in    []byte
		start int
		first bool
		ok    bool
	}{
		{"plain start", []byte{0x10, 0xaa}, 1, true, true},
		{"continuation", []byte{0x00, 0xaa}, 1, false, true},
		{"7-bit picture id", []byte{0x90, 0x80, 0x12, 0xaa}, 3, true, true},
		{"15-bit picture id", []byte{0x90, 0x80, 0x81, 0x23, 0xaa}, 4, true, true},
		{"pid tl0 tid", []byte{0x90, 0xe0, 0x81, 0x23, 0x05, 0x40, 0xaa}, 6, true, true},
		{"partition 1 is not a frame start", []byte{0x11, 0xaa}, 1, false, true},
		{"truncated", []byte{0x90}, 0, false, false},
		{"truncated pid", []byte{0x90, 0x80}, 0, false, false},
		{"empty", nil, 0, false, false},
	}
	for _, tt := range tests {
		s, f, ok := VP8PayloadStart(tt.in)
		if s != tt.start || f != tt.first || ok != tt.ok {
			t.Errorf("%s: got %d %v %v, want %d %v %v", tt.name, s, f, ok, tt.start, tt.first, tt.ok)
		}
	}
}

func BenchmarkBuildFrame(b *testing.B) {
	buf := make([]byte, 0, 10000)
	b.SetBytes(8000)
	b.ReportAllocs()
	for b.Loop() {
		buf = BuildFrame(buf[:0], false, 8000, 1, 2)
	}
}
