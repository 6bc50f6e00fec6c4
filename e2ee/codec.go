package e2ee

import "strings"

// Codec selects the per-codec clear-byte rule of a frame.
type Codec uint8

// Codecs. The zero value is CodecUnknown so a forgotten field fails loudly.
const (
	CodecUnknown Codec = iota
	CodecVP8
	CodecH264
	CodecOpus
)

func (c Codec) String() string {
	switch c {
	case CodecVP8:
		return "vp8"
	case CodecH264:
		return "h264"
	case CodecOpus:
		return "opus"
	default:
		return "unknown"
	}
}

// ParseCodec maps "vp8", "h264", "opus" or a MIME type such as "video/VP8"
// to a Codec; anything else is CodecUnknown.
func ParseCodec(s string) Codec {
	s = strings.ToLower(s)
	if i := strings.IndexByte(s, '/'); i >= 0 {
		s = s[i+1:]
	}
	switch s {
	case "vp8":
		return CodecVP8
	case "h264":
		return CodecH264
	case "opus":
		return CodecOpus
	default:
		return CodecUnknown
	}
}
