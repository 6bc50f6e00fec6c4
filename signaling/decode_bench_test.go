package signaling

import (
	"strings"
	"testing"
)

// BenchmarkDecode measures the per-message cost of the decoder for the
// messages a busy call sends most: trickled candidates, layer changes and
// chat at its size limit.
func BenchmarkDecode(b *testing.B) {
	msgs := map[string]string{
		"candidate": `{"type":"candidate","pc":"pub","candidate":{"candidate":"candidate:1 1 udp 2130706431 192.0.2.1 50000 typ host","sdpMid":"0","sdpMLineIndex":0,"usernameFragment":"abcd"}}`,
		"layer":     `{"type":"layer","track":"TR1234567","width":640,"height":360}`,
		"chat16k":   `{"type":"chat","data":"` + strings.Repeat("A", MaxOpaqueSize) + `"}`,
	}
	for name, m := range msgs {
		data := []byte(m)
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(data)))
			for b.Loop() {
				if _, err := Decode(data); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
