// Package audiolevel tells who is speaking from the audio level that
// browsers put in every audio packet's RFC 6464 header extension, so the
// SFU finds active speakers without decoding (or being able to decrypt)
// the audio.
package audiolevel

import "sync/atomic"

// Levels are in -dBov: 0 is the loudest, 127 silence.
const (
	// Threshold is the smoothed loudness, in 127 - level, above which a
	// stream counts as speech: about -50 dBov, below normal speech and
	// above a quiet room.
	Threshold = 127 - 50
	// Stale is how long, in nanoseconds, a score lasts without packets;
	// with DTX a silent sender stops sending.
	Stale = int64(500e6)
)

// Meter smooths one stream's levels. Update runs on the stream's reader;
// Score may run anywhere.
type Meter struct {
	score atomic.Int64 // smoothed 127-level, times 16
	last  atomic.Int64 // unix nanoseconds of the last update
}

// Update adds one packet's level (the extension's low 7 bits) at now.
func (m *Meter) Update(level uint8, now int64) {
	loud := int64(127 - min(level&0x7F, 127))
	s := m.score.Load()
	// Exponential average over about 16 packets (320 ms of 20 ms frames).
	s += loud - s/16
	m.score.Store(s)
	m.last.Store(now)
}

// Score returns the smoothed loudness at now, 0 when the stream is stale.
func (m *Meter) Score(now int64) int {
	if now-m.last.Load() > Stale {
		return 0
	}
	return int(m.score.Load() / 16)
}

// Speaking reports whether the stream counts as speech at now.
func (m *Meter) Speaking(now int64) bool { return m.Score(now) >= Threshold }

// ParseLevel reads the level from the one-byte RFC 6464 extension payload;
// ok is false when the payload is malformed.
func ParseLevel(ext []byte) (level uint8, ok bool) {
	if len(ext) < 1 {
		return 127, false
	}
	return ext[0] & 0x7F, true
}
