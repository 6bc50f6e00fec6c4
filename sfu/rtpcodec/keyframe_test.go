package rtpcodec

import "testing"

func TestIsKeyframe(t *testing.T) {
	tests := []struct {
		name  string
		codec Codec
		p     []byte
		want  bool
	}{
		{"vp8 key no ext", VP8, []byte{0x10, 0x00, 0x00, 0x00, 0x9d, 0x01, 0x2a}, true},
		{"vp8 delta no ext", VP8, []byte{0x10, 0x01, 0x00, 0x00}, false},
		{"vp8 key 15-bit picture id", VP8, []byte{0x90, 0x80, 0x81, 0x23, 0x50}, true},
		{"vp8 delta 7-bit picture id", VP8, []byte{0x90, 0x80, 0x12, 0x51}, false},
		{"vp8 key pid tl0 tid", VP8, []byte{0x90, 0xE0, 0x81, 0x23, 0x05, 0x40, 0x00}, true},
		{"vp8 continuation", VP8, []byte{0x00, 0x00}, false},
		{"vp8 partition 1", VP8, []byte{0x11, 0x00}, false},
		{"vp8 truncated", VP8, []byte{0x90, 0x80}, false},
		{"vp8 empty", VP8, nil, false},
		{"h264 idr", H264, []byte{0x65, 0x88}, true},
		{"h264 sps", H264, []byte{0x67, 0x42}, true},
		{"h264 non-idr", H264, []byte{0x41, 0x9a}, false},
		{"h264 stap-a sps", H264, []byte{0x78, 0x00, 0x02, 0x67, 0x42, 0x00, 0x02, 0x68, 0xce}, true},
		{"h264 stap-a bad size", H264, []byte{0x78, 0x00, 0x09, 0x67}, false},
		{"h264 fu-a idr start", H264, []byte{0x7c, 0x85, 0x00}, true},
		{"h264 fu-a idr middle", H264, []byte{0x7c, 0x05, 0x00}, false},
		{"opus", Opus, []byte{0xfc}, true},
		{"unknown", Unknown, []byte{0x00}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := IsKeyframe(tt.codec, tt.p); got != tt.want {
				t.Fatalf("IsKeyframe(%v, %x) = %v, want %v", tt.codec, tt.p, got, tt.want)
			}
		})
	}
}

func TestFromMimeType(t *testing.T) {
	for mime, want := range map[string]Codec{"video/VP8": VP8, "audio/opus": Opus, "video/H264": H264, "video/AV1": Unknown} {
		if got := FromMimeType(mime); got != want {
			t.Errorf("FromMimeType(%q) = %v, want %v", mime, got, want)
		}
	}
}

func FuzzIsKeyframe(f *testing.F) {
	f.Add([]byte{0x90, 0xE0, 0x81, 0x23, 0x05, 0x40, 0x00}, 1)
	f.Add([]byte{0x78, 0x00, 0x02, 0x67, 0x42}, 2)
	f.Fuzz(func(t *testing.T, p []byte, c int) {
		IsKeyframe(Codec(c%4), p)
	})
}

func BenchmarkIsKeyframeVP8(b *testing.B) {
	p := []byte{0x90, 0xE0, 0x81, 0x23, 0x05, 0x40, 0x00}
	for b.Loop() {
		IsKeyframe(VP8, p)
	}
}
