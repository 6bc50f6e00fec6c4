package auth

import (
	"crypto/rand"
	"fmt"
	"log/slog"
	"strings"
)

// RoomCodeLen is the number of characters in a room code. 31^9 ≈ 2^44.6
// codes: enough that guessing a live room is hopeless when the join endpoint
// is rate limited, short enough to read out over the phone.
const RoomCodeLen = 9

// RoomCodeAlphabet holds the characters of a room code: lowercase letters and
// digits without the look-alikes 0/o, 1/l/i, so codes survive being read
// aloud or copied by hand.
const RoomCodeAlphabet = "abcdefghjkmnpqrstuvwxyz23456789"

// RoomCode is a validated room code. Obtain one from NewRoomCode or
// ParseRoomCode; a conversion from an arbitrary string skips validation.
type RoomCode string

// rejectAbove is the largest multiple of len(RoomCodeAlphabet) that fits in a
// byte. Random bytes at or above it are discarded so every character is
// equally likely (a plain modulo would favour the first 8 characters).
const rejectAbove = 256 - 256%len(RoomCodeAlphabet)

// NewRoomCode returns a uniformly random room code from crypto/rand.
func NewRoomCode() (RoomCode, error) {
	var out [RoomCodeLen]byte
	var buf [32]byte
	n := 0
	for n < RoomCodeLen {
		if _, err := rand.Read(buf[:]); err != nil {
			return "", fmt.Errorf("auth: reading random bytes for room code: %w", err)
		}
		for _, b := range buf {
			if int(b) >= rejectAbove {
				continue
			}
			out[n] = RoomCodeAlphabet[int(b)%len(RoomCodeAlphabet)]
			n++
			if n == RoomCodeLen {
				break
			}
		}
	}
	return RoomCode(out[:]), nil
}

// ParseRoomCode checks that s is exactly RoomCodeLen characters from
// RoomCodeAlphabet. It does not fold case or map look-alikes: a code is an
// identifier, and accepting variants would make two spellings of one room.
func ParseRoomCode(s string) (RoomCode, error) {
	if len(s) != RoomCodeLen {
		return "", fmt.Errorf("%w: length %d, want %d", ErrBadRoomCode, len(s), RoomCodeLen)
	}
	for i := 0; i < len(s); i++ {
		if strings.IndexByte(RoomCodeAlphabet, s[i]) < 0 {
			// Say where, not what: the rejected input may be a real code
			// with a typo and must not end up in a log line.
			return "", fmt.Errorf("%w: character %d is not in the alphabet", ErrBadRoomCode, i+1)
		}
	}
	return RoomCode(s), nil
}

// String returns the code itself, for URLs and JSON. Logging goes through
// LogValue instead.
func (c RoomCode) String() string { return string(c) }

// LogValue redacts the code: knowing a room code is enough to knock on the
// room, so it never appears in logs.
func (c RoomCode) LogValue() slog.Value {
	if c == "" {
		return slog.StringValue("[empty]")
	}
	return slog.StringValue("[redacted]")
}
