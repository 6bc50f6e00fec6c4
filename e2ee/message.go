package e2ee

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/binary"
	"unicode/utf8"
)

// Sealed message format (docs/e2ee.md §5), for chat and profiles:
//
//	header = version 0x02 | kind | sender's join salt (16) | counter (8, big-endian)
//	sealed = base64url( header | IV (12 random) | AES-GCM ciphertext | tag )
//	additional data = header | sender id
const (
	messageVersion = 2
	messageHeader  = 2 + JoinSaltLen + 8
)

// MessageKind says what a sealed message is; it is authenticated.
type MessageKind uint8

// Message kinds. The zero value is not a kind.
const (
	KindUnknown MessageKind = iota
	KindProfile
	KindChat
)

// SealContext is who seals a message, and where in their sequence.
type SealContext struct {
	SenderID string
	Salt     JoinSalt
	Kind     MessageKind
	Counter  uint64 // strictly increasing per join
}

// Opened is a sealed message after Open: its text and context.
type Opened struct {
	Text    string
	Salt    JoinSalt
	Counter uint64
}

// Seal encrypts a chat message or profile with the room's message key,
// bound to its sender, kind, join and counter. IVs are random: a room seals
// far fewer than 2^32 messages under one key.
func (k *RoomKey) Seal(ctx SealContext, text string) (string, error) {
	var iv [IVLen]byte
	rand.Read(iv[:])
	return k.sealWithIV(ctx, text, iv)
}

func (k *RoomKey) sealWithIV(ctx SealContext, text string, iv [IVLen]byte) (string, error) {
	if !validSenderID(ctx.SenderID) {
		return "", ErrInvalidSenderID
	}
	if ctx.Kind != KindProfile && ctx.Kind != KindChat {
		return "", ErrMessageKind
	}
	buf := make([]byte, messageHeader+IVLen, messageHeader+IVLen+len(text)+TagLen)
	buf[0] = messageVersion
	buf[1] = byte(ctx.Kind)
	copy(buf[2:], ctx.Salt[:])
	binary.BigEndian.PutUint64(buf[2+JoinSaltLen:], ctx.Counter)
	copy(buf[messageHeader:], iv[:])
	ad := append(buf[:messageHeader:messageHeader], ctx.SenderID...)
	buf = k.message.Seal(buf, iv[:], []byte(text), ad)
	return base64.RawURLEncoding.EncodeToString(buf), nil
}

// Open decrypts a sealed message the server says is from `from` and of
// kind. It fails with ErrMalformedMessage, ErrMessageKind or ErrMessageAuth
// (altered, moved to another sender or sealed under another key); a message
// that fails must not be shown. Replays are the caller's to refuse, from
// the counter (docs/e2ee.md §5.1).
func (k *RoomKey) Open(from string, kind MessageKind, sealed string) (Opened, error) {
	raw, err := base64.RawURLEncoding.Strict().DecodeString(sealed)
	if err != nil || len(raw) < messageHeader+IVLen+TagLen || raw[0] != messageVersion || !validSenderID(from) {
		return Opened{}, ErrMalformedMessage
	}
	if MessageKind(raw[1]) != kind {
		return Opened{}, ErrMessageKind
	}
	ad := append(append([]byte(nil), raw[:messageHeader]...), from...)
	pt, err := k.message.Open(nil, raw[messageHeader:messageHeader+IVLen], raw[messageHeader+IVLen:], ad)
	if err != nil {
		return Opened{}, ErrMessageAuth
	}
	if !utf8.Valid(pt) {
		return Opened{}, ErrMalformedMessage
	}
	o := Opened{Text: string(pt), Counter: binary.BigEndian.Uint64(raw[2+JoinSaltLen:])}
	copy(o.Salt[:], raw[2:2+JoinSaltLen])
	return o, nil
}
