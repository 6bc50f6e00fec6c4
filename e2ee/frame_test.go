package e2ee

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"testing"
)

const (
	testLink   = "AAECAwQFBgcICQoLDA0ODw"
	testRoom   = "abcdefghj"
	testSender = "pA1b2C3d4E5f6G7h8I9j0K"
)

func testSenderKey(t testing.TB, opts ...Option) *SenderKey {
	t.Helper()
	rk := roomKeyFor(t, testLink, testRoom)
	if len(opts) > 0 {
		var err error
		if rk, err = DeriveRoomKey(testLink, testRoom, opts...); err != nil {
			t.Fatal(err)
		}
	}
	sk, err := rk.Frame(testSender, SourceCamera, testSalt)
	if err != nil {
		t.Fatal(err)
	}
	return sk
}

// testSalt is the join salt of the vectors' frames (gen_vectors.py JSALT).
var testSalt = JoinSalt{0x30, 0x31, 0x32, 0x33, 0x34, 0x35, 0x36, 0x37, 0x38, 0x39, 0x3a, 0x3b, 0x3c, 0x3d, 0x3e, 0x3f}

// zeroHeavy returns random bytes that are mostly 0x00 and 0x01, so H.264
// start code emulation is exercised.
func zeroHeavy(r *rand.Rand, n int) []byte {
	b := make([]byte, n)
	for i := range b {
		switch r.IntN(4) {
		case 0:
			b[i] = byte(r.Uint32())
		case 1:
			b[i] = 1
		}
	}
	return b
}

func hasStartCode(b []byte) bool {
	return bytes.Contains(b, []byte{0, 0, 1}) || bytes.Contains(b, []byte{0, 0, 0})
}

func TestCodecString(t *testing.T) {
	for _, tc := range []struct {
		c    Codec
		s    string
		mime string
	}{
		{CodecUnknown, "unknown", "video/VP9"},
		{CodecVP8, "vp8", "video/VP8"},
		{CodecH264, "h264", "video/H264"},
		{CodecOpus, "opus", "audio/opus"},
	} {
		if tc.c.String() != tc.s {
			t.Errorf("%d.String() = %q, want %q", tc.c, tc.c.String(), tc.s)
		}
		if got := ParseCodec(tc.mime); got != tc.c {
			t.Errorf("ParseCodec(%q) = %v, want %v", tc.mime, got, tc.c)
		}
	}
}

func TestRoundTrip(t *testing.T) {
	sk := testSenderKey(t)
	r := rand.New(rand.NewPCG(1, 2))
	ivs := NewIVSequence()
	for _, codec := range []Codec{CodecVP8, CodecOpus, CodecH264} {
		for n := range 200 {
			var frame []byte
			switch codec {
			case CodecH264:
				sc := []byte{0, 0, 0, 1}
				if n%2 == 0 {
					sc = sc[1:]
				}
				frame = append(append(append([]byte{}, sc...), 0x67, 0x42, 0, 0x1f), sc...)
				frame = append(append(frame, 0x65), zeroHeavy(r, r.IntN(400))...)
			default:
				frame = zeroHeavy(r, r.IntN(400))
			}
			keyFrame := codec == CodecVP8 && len(frame) > 0 && frame[0]&1 == 0
			iv := ivs.Next()
			if n%5 == 0 {
				iv = [IVLen]byte{} // zeros exercise escaping
			}
			enc, err := sk.EncryptFrame(nil, codec, keyFrame, iv, 0, frame)
			if err != nil {
				t.Fatal(err)
			}
			if codec != CodecH264 && len(frame) > 0 && len(enc) != len(frame)+Overhead {
				t.Fatalf("%v: len %d, want %d", codec, len(enc), len(frame)+Overhead)
			}
			if codec == CodecH264 {
				clear, rest := appendH264Clear(nil, frame)
				if rest != len(frame)-len(frame[rest:]) || hasStartCode(enc[len(clear):]) {
					t.Fatalf("start code in protected part: %x", enc)
				}
				if enc[len(enc)-1] == 0 {
					t.Fatalf("frame ends in 0x00: %x", enc)
				}
				frame = append(clear, frame[rest:]...)
			}
			dec, err := sk.DecryptFrame(nil, codec, enc)
			if err != nil {
				t.Fatalf("%v frame %d: %v", codec, n, err)
			}
			if !bytes.Equal(dec, frame) {
				t.Fatalf("%v frame %d: round trip\n got %x\nwant %x", codec, n, dec, frame)
			}
		}
	}
}

func TestEveryByteFlipFails(t *testing.T) {
	sk := testSenderKey(t)
	frames := []struct {
		codec    Codec
		keyFrame bool
		frame    []byte
	}{
		{CodecVP8, true, []byte{0x50, 0x43, 0, 0x9d, 1, 0x2a, 0x80, 2, 0xe0, 1, 7, 7, 7}},
		{CodecVP8, false, []byte{0xb1, 2, 0, 9, 9}},
		{CodecOpus, false, []byte{0xfc, 1, 2, 3}},
		{CodecH264, true, []byte{0, 0, 0, 1, 0x67, 0x42, 0, 0, 1, 0x68, 0xce, 0, 0, 0, 1, 0x65, 0x88, 0, 0, 1}},
	}
	for _, f := range frames {
		enc, err := sk.EncryptFrame(nil, f.codec, f.keyFrame, NewIVSequence().Next(), 0, f.frame)
		if err != nil {
			t.Fatal(err)
		}
		for i := range enc {
			for _, mask := range []byte{1, 0x80} {
				bad := bytes.Clone(enc)
				bad[i] ^= mask
				if out, err := sk.DecryptFrame(nil, f.codec, bad); err == nil {
					t.Errorf("%v: flipping bit %#x of byte %d/%d was accepted: %x", f.codec, mask, i, len(enc), out)
				}
			}
		}
	}
}

func TestKeyIndexAndSenders(t *testing.T) {
	k0 := testSenderKey(t)
	k1 := testSenderKey(t, WithKeyIndex(1))
	rk := roomKeyFor(t, testLink, testRoom)
	other, err := rk.Frame("someoneElse", SourceCamera, testSalt)
	if err != nil {
		t.Fatal(err)
	}
	screen, err := rk.Frame(testSender, SourceScreen, testSalt)
	if err != nil {
		t.Fatal(err)
	}
	later, err := rk.Frame(testSender, SourceCamera, NewJoinSalt())
	if err != nil {
		t.Fatal(err)
	}
	frame := []byte{0xfc, 1, 2, 3, 4}
	enc, err := k0.EncryptFrame(nil, CodecOpus, false, NewIVSequence().Next(), 0, frame)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		key  *SenderKey
		want error
	}{
		{"same", k0, nil},
		{"index 1 key", k1, ErrUnknownKeyIndex},
		{"other sender", other, ErrFrameAuth},
		{"other source", screen, ErrFrameAuth},
		{"other join", later, ErrFrameAuth},
	} {
		if _, err := tc.key.DecryptFrame(nil, CodecOpus, enc); !errors.Is(err, tc.want) {
			t.Errorf("%s: err %v, want %v", tc.name, err, tc.want)
		}
	}
	if _, err := k0.EncryptFrame(nil, CodecOpus, false, [IVLen]byte{}, InjectedKeyIndex, frame); !errors.Is(err, ErrInvalidKeyIndex) {
		t.Errorf("key index 255 accepted for encryption: %v", err)
	}
	if _, err := DeriveRoomKey(testLink, testRoom, WithKeyIndex(255)); !errors.Is(err, ErrInvalidKeyIndex) {
		t.Errorf("WithKeyIndex(255): %v", err)
	}
	if _, err := k0.EncryptFrame(nil, CodecUnknown, false, [IVLen]byte{}, 0, frame); !errors.Is(err, ErrUnknownCodec) {
		t.Errorf("unknown codec: %v", err)
	}
	for _, tc := range []struct {
		id  string
		src Source
		err error
	}{{"has space", SourceCamera, ErrInvalidSenderID}, {"evil.1", SourceCamera, ErrInvalidSenderID}, {testSender, SourceUnknown, ErrInvalidSource}, {testSender, Source(9), ErrInvalidSource}} {
		if _, err := rk.Frame(tc.id, tc.src, testSalt); !errors.Is(err, tc.err) {
			t.Errorf("Frame(%q, %v): %v, want %v", tc.id, tc.src, err, tc.err)
		}
	}
}

func TestInjectedRefused(t *testing.T) {
	sk := testSenderKey(t)
	// v1's allowed Opus silence, and the same bytes as VP8.
	for _, tc := range []struct {
		codec Codec
		frame []byte
	}{{CodecOpus, []byte{0xf8, 0xff, 0xfe, 0, 0xff}}, {CodecVP8, []byte{0xf9, 0xff, 0xfe, 0, 0xff}}} {
		if _, err := sk.DecryptFrame(nil, tc.codec, tc.frame); !errors.Is(err, ErrInjectedFrame) {
			t.Errorf("%v injected: %v", tc.codec, err)
		}
	}
}

func TestDecryptFreshRefusesReplays(t *testing.T) {
	sk := testSenderKey(t)
	ivs := NewIVSequence()
	var w ReplayWindow
	a, _ := sk.EncryptFrame(nil, CodecVP8, false, ivs.Next(), 0, []byte{0xb1, 2, 0, 7})
	b, _ := sk.EncryptFrame(nil, CodecVP8, false, ivs.Next(), 0, []byte{0xb1, 2, 0, 8})
	forged := bytes.Clone(b)
	forged[4] ^= 1
	for i, tc := range []struct {
		frame []byte
		want  error
	}{{b, nil}, {a, nil}, {a, ErrReplayedFrame}, {b, ErrReplayedFrame}, {forged, ErrFrameAuth}} {
		if _, err := sk.DecryptFresh(nil, CodecVP8, tc.frame, &w); !errors.Is(err, tc.want) {
			t.Errorf("#%d: %v, want %v", i, err, tc.want)
		}
	}
}

func TestMessages(t *testing.T) {
	rk := roomKeyFor(t, testLink, testRoom)
	other := roomKeyFor(t, testLink, "z23456789")
	ctx := SealContext{SenderID: testSender, Salt: testSalt, Kind: KindChat, Counter: 3}
	for _, text := range []string{"", "hello", "Zoë 👋", string(make([]byte, 3000))} {
		a, _ := rk.Seal(ctx, text)
		b, _ := rk.Seal(ctx, text)
		if a == b {
			t.Fatal("two seals of one text are equal: IV not random")
		}
		if got, err := rk.Open(testSender, KindChat, a); err != nil || got.Text != text || got.Counter != 3 || got.Salt != testSalt {
			t.Fatalf("Open = %+v, %v", got, err)
		}
		for _, tc := range []struct {
			rk   *RoomKey
			from string
			kind MessageKind
			want error
		}{{other, testSender, KindChat, ErrMessageAuth}, {rk, "someoneElse", KindChat, ErrMessageAuth}, {rk, testSender, KindProfile, ErrMessageKind}} {
			if _, err := tc.rk.Open(tc.from, tc.kind, a); !errors.Is(err, tc.want) {
				t.Fatalf("Open(%s, %v) = %v, want %v", tc.from, tc.kind, err, tc.want)
			}
		}
	}
	if _, err := rk.Seal(SealContext{SenderID: "evil.1", Kind: KindChat}, "x"); !errors.Is(err, ErrInvalidSenderID) {
		t.Errorf("sealing as an invalid id: %v", err)
	}
}

func TestSafetyCode(t *testing.T) {
	a, err := SafetyCode(testLink, testRoom)
	if err != nil {
		t.Fatal(err)
	}
	b, err := SafetyCode("_-7dzLuqmYh3ZlVEMyIRAA", testRoom)
	if err != nil {
		t.Fatal(err)
	}
	if a == b || len(a) != 19 || a[4] != ' ' || a[9] != ' ' || a[14] != ' ' {
		t.Fatalf("codes %q %q", a, b)
	}
	if _, err := SafetyCode("short", testRoom); !errors.Is(err, ErrInvalidLinkKey) {
		t.Fatalf("short key: %v", err)
	}
}

func TestIVSequence(t *testing.T) {
	a, b := NewIVSequence(), NewIVSequence()
	a0, a1, b0 := a.Next(), a.Next(), b.Next()
	if !bytes.Equal(a0[:8], a1[:8]) || binary.BigEndian.Uint32(a1[8:]) != 1 {
		t.Fatalf("counter did not advance: %x %x", a0, a1)
	}
	if bytes.Equal(a0[:8], b0[:8]) {
		t.Fatal("two sequences share a prefix")
	}
	binary.BigEndian.PutUint32(a.iv[8:], ^uint32(0))
	last, next := a.Next(), a.Next()
	if binary.BigEndian.Uint32(next[8:]) != 0 || bytes.Equal(last[:8], next[:8]) {
		t.Fatalf("no reseed at wrap: %x %x", last, next)
	}
}

// TestNoAllocs holds the per-frame promise: with a big enough dst, encrypting
// and decrypting allocate nothing.
func TestNoAllocs(t *testing.T) {
	sk := testSenderKey(t)
	ivs := NewIVSequence()
	for _, codec := range []Codec{CodecVP8, CodecOpus, CodecH264} {
		frame := append([]byte{0, 0, 0, 1, 0x65}, zeroHeavy(rand.New(rand.NewPCG(3, 4)), 1000)...)
		if codec != CodecH264 {
			frame = frame[4:]
		}
		enc := make([]byte, 0, 4096)
		dec := make([]byte, 0, 4096)
		var err error
		allocs := testing.AllocsPerRun(100, func() {
			enc, err = sk.EncryptFrame(enc[:0], codec, false, ivs.Next(), 0, frame)
			if err == nil {
				dec, err = sk.DecryptFrame(dec[:0], codec, enc)
			}
		})
		if err != nil {
			t.Fatal(err)
		}
		if allocs != 0 {
			t.Errorf("%v: %.1f allocations per frame, want 0", codec, allocs)
		}
	}
}

func BenchmarkFrame(b *testing.B) {
	sk := testSenderKey(b)
	for _, size := range []int{100, 1200, 12000} {
		for _, codec := range []Codec{CodecVP8, CodecH264} {
			frame := make([]byte, size)
			rand.NewChaCha8([32]byte{5, 6}).Read(frame)
			if codec == CodecH264 {
				copy(frame, []byte{0, 0, 0, 1, 0x65})
			} else {
				frame[0] |= 1 // a delta frame, matching keyFrame=false below
			}
			enc, _ := sk.EncryptFrame(nil, codec, false, NewIVSequence().Next(), 0, frame)
			buf := make([]byte, 0, 2*size+64)
			ivs := NewIVSequence()
			b.Run(fmt.Sprintf("encrypt/%v/%d", codec, size), func(b *testing.B) {
				b.ReportAllocs()
				b.SetBytes(int64(size))
				for b.Loop() {
					buf, _ = sk.EncryptFrame(buf[:0], codec, false, ivs.Next(), 0, frame)
				}
			})
			b.Run(fmt.Sprintf("decrypt/%v/%d", codec, size), func(b *testing.B) {
				b.ReportAllocs()
				b.SetBytes(int64(size))
				for b.Loop() {
					var err error
					if buf, err = sk.DecryptFrame(buf[:0], codec, enc); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}
