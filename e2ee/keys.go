package e2ee

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/pbkdf2"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"log/slog"
)

// Key derivation constants; docs/e2ee.md §3. Changing any of them changes
// every key, so they are versioned in the strings.
const (
	PBKDF2Iterations = 100000
	saltPrefix       = "monkeythorn-meet/e2ee/v2/room/"
	frameInfo        = "monkeythorn-meet/e2ee/v2/frame/"
	messageInfo      = "monkeythorn-meet/e2ee/v2/message"
	safetyInfo       = "monkeythorn-meet/e2ee/v2/safety-code"
	linkKeyBytes     = 16
	frameKeyBytes    = 16
	roomAlphabet     = "abcdefghjkmnpqrstuvwxyz23456789"
	roomCodeLen      = 9
	maxSenderID      = 64
	safetyModulus    = 10_000_000_000_000_000 // 16 decimal digits, about 53 bits
)

// JoinSaltLen is the length of the random salt a participant draws for
// every join; it is announced in its sealed messages (docs/e2ee.md §3, §5).
const JoinSaltLen = 16

// JoinSalt is one participant's salt for one join.
type JoinSalt [JoinSaltLen]byte

// NewJoinSalt draws a fresh join salt.
func NewJoinSalt() JoinSalt {
	var s JoinSalt
	rand.Read(s[:]) // never fails since Go 1.24
	return s
}

// Source is what a media track carries. It is bound into the track's frame
// key, so a server that relabels a camera as a screen share (or the other
// way round) makes its frames fail authentication.
type Source uint8

// Sources. The zero value is SourceUnknown, for which no key exists.
const (
	SourceUnknown Source = iota
	SourceMicrophone
	SourceCamera
	SourceScreen
)

func (s Source) String() string {
	switch s {
	case SourceMicrophone:
		return "microphone"
	case SourceCamera:
		return "camera"
	case SourceScreen:
		return "screen"
	default:
		return "unknown"
	}
}

// ParseSource maps "microphone", "camera" or "screen" to a Source.
func ParseSource(s string) Source {
	switch s {
	case "microphone":
		return SourceMicrophone
	case "camera":
		return SourceCamera
	case "screen":
		return SourceScreen
	default:
		return SourceUnknown
	}
}

// RoomKey is the secret of one room under one link key and one key index.
// It is safe for concurrent use.
type RoomKey struct {
	secret  []byte
	index   byte
	message cipher.AEAD
}

// Option adjusts a RoomKey after its defaults are set.
type Option func(*RoomKey) error

// WithKeyIndex sets the key index (default 0) frames decrypted with this
// key's SenderKeys must carry; a rotated key gets the next index.
func WithKeyIndex(i byte) Option {
	return func(k *RoomKey) error {
		if i == InjectedKeyIndex {
			return ErrInvalidKeyIndex
		}
		k.index = i
		return nil
	}
}

// DeriveRoomKey derives the room secret from a link key (base64url, 22
// characters) and a room code. It runs PBKDF2 with PBKDF2Iterations rounds,
// so derive once per room, not per frame.
func DeriveRoomKey(linkKey, roomCode string, opts ...Option) (*RoomKey, error) {
	raw, err := base64.RawURLEncoding.Strict().DecodeString(linkKey)
	if err != nil || len(raw) != linkKeyBytes {
		return nil, ErrInvalidLinkKey
	}
	if !validRoomCode(roomCode) {
		return nil, ErrInvalidRoomCode
	}
	secret, err := pbkdf2.Key(sha256.New, string(raw), []byte(saltPrefix+roomCode), PBKDF2Iterations, 32)
	if err != nil {
		return nil, fmt.Errorf("e2ee: pbkdf2: %w", err)
	}
	k := &RoomKey{secret: secret}
	mk, err := k.expand(messageInfo, frameKeyBytes)
	if err != nil {
		return nil, err
	}
	if k.message, err = newGCM(mk); err != nil {
		return nil, err
	}
	for _, o := range opts {
		if err := o(k); err != nil {
			return nil, err
		}
	}
	return k, nil
}

// KeyIndex is the key index of this key.
func (k *RoomKey) KeyIndex() byte { return k.index }

// LogValue keeps key material out of logs.
func (k *RoomKey) LogValue() slog.Value {
	return slog.GroupValue(slog.Int("key_index", int(k.index)), slog.String("secret", "REDACTED"))
}

func (k *RoomKey) expand(info string, n int) ([]byte, error) {
	return k.expandSalted(nil, info, n)
}

func (k *RoomKey) expandSalted(salt []byte, info string, n int) ([]byte, error) {
	b, err := hkdf.Key(sha256.New, k.secret, salt, info, n)
	if err != nil {
		return nil, fmt.Errorf("e2ee: hkdf: %w", err)
	}
	return b, nil
}

// Frame returns the frame key of one source of one sender (its participant
// id) in one join (the salt from its sealed messages).
func (k *RoomKey) Frame(senderID string, source Source, salt JoinSalt) (*SenderKey, error) {
	if !validSenderID(senderID) {
		return nil, ErrInvalidSenderID
	}
	if source == SourceUnknown || source > SourceScreen {
		return nil, ErrInvalidSource
	}
	raw, err := k.expandSalted(salt[:], frameInfo+source.String()+"/"+senderID, frameKeyBytes)
	if err != nil {
		return nil, err
	}
	aead, err := newGCM(raw)
	if err != nil {
		return nil, err
	}
	return &SenderKey{aead: aead, index: k.index}, nil
}

// SafetyCode is the 16-digit code ("dddd dddd dddd dddd") participants
// compare aloud: equal codes mean equal link keys for this room. It is
// about 53 bits of an HKDF output; docs/e2ee.md §9 gives the cost of
// searching for a key with the same code.
func (k *RoomKey) SafetyCode() string {
	b, err := k.expand(safetyInfo, 8)
	if err != nil {
		// hkdf.Key only fails for lengths above 255*32 bytes.
		panic(err)
	}
	d := fmt.Sprintf("%016d", binary.BigEndian.Uint64(b)%safetyModulus)
	return d[:4] + " " + d[4:8] + " " + d[8:12] + " " + d[12:]
}

// SafetyCode derives the room key and returns its safety code.
func SafetyCode(linkKey, roomCode string) (string, error) {
	k, err := DeriveRoomKey(linkKey, roomCode)
	if err != nil {
		return "", err
	}
	return k.SafetyCode(), nil
}

func newGCM(key []byte) (cipher.AEAD, error) {
	b, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("e2ee: aes: %w", err)
	}
	g, err := cipher.NewGCM(b)
	if err != nil {
		return nil, fmt.Errorf("e2ee: gcm: %w", err)
	}
	return g, nil
}

func validRoomCode(s string) bool {
	if len(s) != roomCodeLen {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !containsByte(roomAlphabet, s[i]) {
			return false
		}
	}
	return true
}

func validSenderID(s string) bool {
	if len(s) == 0 || len(s) > maxSenderID {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		ok := c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_'
		if !ok {
			return false
		}
	}
	return true
}

func containsByte(s string, c byte) bool {
	for i := 0; i < len(s); i++ {
		if s[i] == c {
			return true
		}
	}
	return false
}
