package e2ee

import (
	"crypto/rand"
	"encoding/base64"
	"unicode/utf8"
)

// Sealed message format (docs/e2ee.md §5), for chat and display names:
//
//	base64url( version 0x01 || IV 12 random bytes || AES-GCM ciphertext || tag )
//
// The version byte is the additional data.
const messageVersion = 1

// Seal encrypts a chat message or display name with the room's message key.
// IVs are random: a room seals far fewer than 2^32 messages under one key.
func (k *RoomKey) Seal(text string) string {
	var iv [IVLen]byte
	rand.Read(iv[:])
	return k.sealWithIV(text, iv)
}

func (k *RoomKey) sealWithIV(text string, iv [IVLen]byte) string {
	buf := make([]byte, 1+IVLen, 1+IVLen+len(text)+TagLen)
	buf[0] = messageVersion
	copy(buf[1:], iv[:])
	buf = k.message.Seal(buf, iv[:], []byte(text), buf[:1])
	return base64.RawURLEncoding.EncodeToString(buf)
}

// Open decrypts a sealed message. It fails with ErrMalformedMessage or
// ErrMessageAuth; a message that fails must not be shown.
func (k *RoomKey) Open(sealed string) (string, error) {
	raw, err := base64.RawURLEncoding.Strict().DecodeString(sealed)
	if err != nil || len(raw) < 1+IVLen+TagLen || raw[0] != messageVersion {
		return "", ErrMalformedMessage
	}
	pt, err := k.message.Open(nil, raw[1:1+IVLen], raw[1+IVLen:], raw[:1])
	if err != nil {
		return "", ErrMessageAuth
	}
	if !utf8.Valid(pt) {
		return "", ErrMalformedMessage
	}
	return string(pt), nil
}
