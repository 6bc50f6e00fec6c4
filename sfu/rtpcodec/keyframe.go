// Package rtpcodec reads the few codec bytes the SFU needs from RTP
// payloads: whether a packet starts a key frame, and where an Opus RED
// payload's primary block starts. It reads only bytes that
// end-to-end encryption leaves in clear (the payload descriptor and the
// codec header at the start of a frame), so it works on encrypted media.
package rtpcodec

import "strings"

// Codec is the payload format of a stream.
type Codec int

const (
	Unknown Codec = iota
	Opus
	VP8
	H264
	// RED is Opus with redundancy (RFC 2198), see REDPrimary.
	RED
)

func (c Codec) String() string {
	switch c {
	case Opus:
		return "opus"
	case VP8:
		return "vp8"
	case H264:
		return "h264"
	case RED:
		return "red"
	}
	return "unknown"
}

// FromMimeType maps a WebRTC mime type such as "video/VP8" to a Codec.
func FromMimeType(mime string) Codec {
	switch strings.ToLower(mime) {
	case "audio/opus":
		return Opus
	case "video/vp8":
		return VP8
	case "video/h264":
		return H264
	case "audio/red":
		return RED
	}
	return Unknown
}

// IsKeyframe reports whether payload is the first packet of a key frame.
// Audio packets are always decodable on their own and count as key frames.
func IsKeyframe(c Codec, payload []byte) bool {
	switch c {
	case VP8:
		return isVP8Keyframe(payload)
	case H264:
		return isH264Keyframe(payload)
	case Opus, RED:
		return true
	}
	return false
}

// isVP8Keyframe parses the RFC 7741 payload descriptor and checks the P bit
// of the VP8 frame header (RFC 6386 9.1), which is clear under E2EE.
func isVP8Keyframe(p []byte) bool {
	if len(p) < 1 {
		return false
	}
	x := p[0]&0x80 != 0
	start := p[0]&0x10 != 0
	partID := p[0] & 0x07
	if !start || partID != 0 {
		return false
	}
	i := 1
	if x {
		if len(p) < 2 {
			return false
		}
		ext := p[1]
		i = 2
		if ext&0x80 != 0 { // I: picture id
			if len(p) <= i {
				return false
			}
			if p[i]&0x80 != 0 { // M: 15-bit picture id
				i++
			}
			i++
		}
		if ext&0x40 != 0 { // L: TL0PICIDX
			i++
		}
		if ext&0x30 != 0 { // T or K: TID/Y/KEYIDX
			i++
		}
	}
	if len(p) <= i {
		return false
	}
	return p[i]&0x01 == 0
}

// NAL unit types that matter here (RFC 6184).
const (
	nalIDR  = 5
	nalSPS  = 7
	nalSTAP = 24
	nalFUA  = 28
)

// isH264Keyframe looks for an SPS or IDR slice in a single NAL unit, in the
// units of a STAP-A aggregate, or at the start of an FU-A fragment.
func isH264Keyframe(p []byte) bool {
	if len(p) < 1 {
		return false
	}
	switch t := p[0] & 0x1F; t {
	case nalIDR, nalSPS:
		return true
	case nalSTAP:
		for i := 1; i+2 < len(p); {
			size := int(p[i])<<8 | int(p[i+1])
			i += 2
			if size == 0 || i+size > len(p) {
				return false
			}
			if nt := p[i] & 0x1F; nt == nalIDR || nt == nalSPS {
				return true
			}
			i += size
		}
	case nalFUA:
		if len(p) < 2 {
			return false
		}
		return p[1]&0x80 != 0 && (p[1]&0x1F == nalIDR || p[1]&0x1F == nalSPS)
	}
	return false
}
