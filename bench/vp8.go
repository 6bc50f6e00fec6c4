package bench

import (
	"encoding/binary"
	"math/rand/v2"
	"time"
)

// Frame stamp layout, right after the VP8 bytes E2EE leaves in the clear
// (10 on key frames, 3 on delta frames), so with --e2ee it is encrypted and
// a subscriber reads it only after decrypting the frame:
//
//	"MTBF" | send time: ns since bench start, uint64 BE | frame number, uint32 BE
const (
	stampMagic = "MTBF"
	StampLen   = 4 + 8 + 4
	vp8KeyHdr  = 10
	vp8Hdr     = 3
	// MinFrameSize is the smallest frame BuildFrame makes: key header and stamp.
	MinFrameSize = vp8KeyHdr + StampLen
)

// VP8 header bytes. The frame tag's bit 0 is the inverse key frame flag
// (RFC 6386 §9.1), which is what the SFU reads to find key frames; key
// frames then carry the start code and a 1280×720 size.
var (
	vp8KeyFrameHdr   = [vp8KeyHdr]byte{0x10, 0x02, 0x00, 0x9d, 0x01, 0x2a, 0x00, 0x05, 0xd0, 0x02}
	vp8DeltaFrameHdr = [vp8Hdr]byte{0x11, 0x02, 0x00}
)

// FrameConfig shapes a synthetic video stream.
type FrameConfig struct {
	Bitrate  int64 // bits per second, on average over a key frame interval
	FPS      int   // frames per second; default 30
	KeyEvery int   // frames between key frames; default 2.5 s worth
	// KeyRatio is how many times larger a key frame is than a delta frame;
	// default 6, about what VP8 encoders make for a talking head.
	KeyRatio int
	Seed     uint64 // for the ±10% delta frame size jitter
}

// FrameSource decides the size and type of each frame of one stream so
// that the stream averages Bitrate. Not safe for concurrent use.
type FrameSource struct {
	cfg       FrameConfig
	delta     int
	key       int
	n         int
	forceKey  bool
	rng       *rand.Rand
	frameTime time.Duration
}

// NewFrameSource applies defaults and returns a source whose first frame is
// a key frame.
func NewFrameSource(cfg FrameConfig) *FrameSource {
	if cfg.FPS <= 0 {
		cfg.FPS = 30
	}
	if cfg.KeyEvery <= 0 {
		cfg.KeyEvery = cfg.FPS * 5 / 2
	}
	if cfg.KeyRatio <= 0 {
		cfg.KeyRatio = 6
	}
	perInterval := float64(cfg.Bitrate) / 8 / float64(cfg.FPS) * float64(cfg.KeyEvery)
	delta := int(perInterval / float64(cfg.KeyRatio+cfg.KeyEvery-1))
	return &FrameSource{
		cfg:       cfg,
		delta:     max(delta, MinFrameSize),
		key:       max(delta*cfg.KeyRatio, MinFrameSize),
		rng:       rand.New(rand.NewPCG(cfg.Seed, 0x6d74)),
		frameTime: time.Second / time.Duration(cfg.FPS),
	}
}

// FrameTime is the time between frames.
func (s *FrameSource) FrameTime() time.Duration { return s.frameTime }

// ForceKey makes the next frame a key frame (a PLI arrived) and restarts
// the key frame interval from it, as an encoder does.
func (s *FrameSource) ForceKey() { s.forceKey = true }

// Next returns the size and type of the next frame.
func (s *FrameSource) Next() (size int, key bool) {
	key = s.n%s.cfg.KeyEvery == 0 || s.forceKey
	if s.forceKey {
		s.forceKey = false
		s.n = 0
	}
	s.n++
	if key {
		return s.key, true
	}
	jitter := s.delta / 10
	if jitter > 0 {
		return max(s.delta-jitter+s.rng.IntN(2*jitter+1), MinFrameSize), false
	}
	return s.delta, false
}

// BuildFrame appends a frame of size bytes (at least MinFrameSize) to dst:
// VP8 header, stamp, filler.
func BuildFrame(dst []byte, key bool, size int, sendNs int64, frameNo uint32) []byte {
	size = max(size, MinFrameSize)
	start := len(dst)
	if key {
		dst = append(dst, vp8KeyFrameHdr[:]...)
	} else {
		dst = append(dst, vp8DeltaFrameHdr[:]...)
	}
	dst = append(dst, stampMagic...)
	dst = binary.BigEndian.AppendUint64(dst, uint64(sendNs))
	dst = binary.BigEndian.AppendUint32(dst, frameNo)
	for i := len(dst) - start; i < size; i++ {
		dst = append(dst, byte(i))
	}
	return dst
}

// IsKeyFrame reports whether a VP8 frame (or its first packet's payload
// after the descriptor) starts a key frame.
func IsKeyFrame(frame []byte) bool { return len(frame) > 0 && frame[0]&1 == 0 }

// ParseStamp reads the send time and frame number of a frame built by
// BuildFrame; frame may be cut short after the stamp (a first packet).
func ParseStamp(frame []byte) (sendNs int64, frameNo uint32, err error) {
	off := vp8Hdr
	if IsKeyFrame(frame) {
		off = vp8KeyHdr
	}
	if len(frame) < off+StampLen || string(frame[off:off+4]) != stampMagic {
		return 0, 0, ErrNotBenchFrame
	}
	sendNs = int64(binary.BigEndian.Uint64(frame[off+4:]))
	frameNo = binary.BigEndian.Uint32(frame[off+12:])
	return sendNs, frameNo, nil
}

// VP8 payload descriptor bits (RFC 7741 §4.2).
const (
	vp8X = 0x80 // extended control bits present
	vp8S = 0x10 // start of a partition
	vp8I = 0x80 // picture id present
	vp8L = 0x40 // TL0PICIDX present
	vp8T = 0x20 // TID present
	vp8K = 0x10 // KEYIDX present
	vp8M = 0x80 // 15-bit picture id
)

// Packetize splits frame into VP8 RTP payloads of at most maxPayload bytes
// (descriptor included) and calls emit for each, reusing buf. The
// descriptor is one byte, S set on the first packet, no picture id: the
// SFU does not need one and it keeps the generator cheap.
func Packetize(buf, frame []byte, maxPayload int, emit func(payload []byte, last bool) error) error {
	chunk := max(maxPayload-1, 1)
	for off := 0; off < len(frame); off += chunk {
		end := min(off+chunk, len(frame))
		desc := byte(0)
		if off == 0 {
			desc = vp8S
		}
		buf = append(append(buf[:0], desc), frame[off:end]...)
		if err := emit(buf, end == len(frame)); err != nil {
			return err
		}
	}
	return nil
}

// VP8PayloadStart parses the payload descriptor of a VP8 RTP payload and
// returns where the frame data starts and whether this packet starts a
// frame. ok is false for a truncated descriptor.
func VP8PayloadStart(p []byte) (start int, first bool, ok bool) {
	if len(p) < 1 {
		return 0, false, false
	}
	first = p[0]&vp8S != 0 && p[0]&0x07 == 0
	i := 1
	if p[0]&vp8X != 0 {
		if len(p) < 2 {
			return 0, false, false
		}
		x := p[1]
		i = 2
		if x&vp8I != 0 {
			if len(p) <= i {
				return 0, false, false
			}
			if p[i]&vp8M != 0 {
				i++
			}
			i++
		}
		if x&vp8L != 0 {
			i++
		}
		if x&(vp8T|vp8K) != 0 {
			i++
		}
	}
	if i > len(p) {
		return 0, false, false
	}
	return i, first, true
}
