package e2ee

import (
	"bytes"
	"encoding/hex"
	"testing"
)

// FuzzDecryptFrame feeds arbitrary frames to DecryptFrame. Without -fuzz it
// runs the seeds (every vector frame, tampered frame and injected frame) as
// a normal test. Properties: no panic; on error dst is returned unchanged; a
// VP8/Opus frame that decrypts re-encrypts to the same bytes with the IV and
// key index from its trailer (so nothing unauthenticated slipped through).
func FuzzDecryptFrame(f *testing.F) {
	v := loadVectors(f)
	for _, fr := range v.Frames {
		if fr.LinkKey == testLink && fr.Room == testRoom && fr.Sender == testSender && fr.KeyIndex == 0 {
			f.Add(uint8(ParseCodec(fr.Codec)), mustHex(fr.Encrypted))
		}
	}
	for _, fr := range v.Tampered {
		f.Add(uint8(ParseCodec(fr.Codec)), mustHex(fr.Frame))
	}
	f.Add(uint8(CodecH264), []byte{0, 0, 1, 0, 0, 0, 1, 0, 0, 3, 0xff})
	sk := testSenderKey(f)
	f.Fuzz(func(t *testing.T, c uint8, frame []byte) {
		codec := Codec(c % 5)
		in := bytes.Clone(frame)
		dst := []byte("dst")
		out, err := sk.DecryptFrame(dst, codec, frame)
		if !bytes.Equal(in, frame) {
			t.Fatal("DecryptFrame modified its input")
		}
		if err != nil {
			if string(out) != "dst" {
				t.Fatalf("dst changed on error: %q", out)
			}
			return
		}
		if string(out[:3]) != "dst" {
			t.Fatalf("dst prefix lost: %q", out)
		}
		if len(frame) == 0 || codec == CodecH264 || frame[len(frame)-1] == InjectedKeyIndex {
			return
		}
		var iv [IVLen]byte
		copy(iv[:], frame[len(frame)-TrailerLen:])
		keyFrame := codec == CodecVP8 && frame[0]&1 == 0
		re, err := sk.EncryptFrame(nil, codec, keyFrame, iv, frame[len(frame)-1], out[3:])
		if err != nil || !bytes.Equal(re, frame) {
			t.Fatalf("re-encryption differs: %x, %v\nwant %x", re, err, frame)
		}
	})
}

// FuzzRoundTrip checks decrypt(encrypt(x)) for arbitrary frames, which walks
// the H.264 parser over inputs nobody would write by hand.
func FuzzRoundTrip(f *testing.F) {
	f.Add(uint8(CodecH264), []byte{0, 0, 0, 1, 0x67, 0, 0, 1, 0x65, 0, 0, 0})
	f.Add(uint8(CodecH264), []byte{0, 0, 1, 0, 0, 0, 1})
	f.Add(uint8(CodecH264), []byte{0, 0, 1, 0, 0, 1, 0x41, 0, 0})
	f.Add(uint8(CodecH264), []byte{1, 0, 0, 1, 0x65})
	f.Add(uint8(CodecVP8), []byte{0x10, 2, 3})
	f.Add(uint8(CodecOpus), []byte{0xfc})
	sk := testSenderKey(f)
	f.Fuzz(func(t *testing.T, c uint8, frame []byte) {
		codec := Codec(c%3 + 1)
		keyFrame := codec == CodecVP8 && len(frame) > 0 && frame[0]&1 == 0
		enc, err := sk.EncryptFrame(nil, codec, keyFrame, [IVLen]byte{}, 0, frame)
		if err != nil {
			t.Fatal(err)
		}
		want := frame
		if codec == CodecH264 && len(frame) > 0 {
			clear, rest := appendH264Clear(nil, frame)
			want = append(clear, frame[rest:]...)
			if hasStartCode(enc[len(clear):]) {
				t.Fatalf("start code in protected part: %x", enc)
			}
		}
		dec, err := sk.DecryptFrame(nil, codec, enc)
		if err != nil {
			t.Fatalf("decrypt %x: %v", enc, err)
		}
		if !bytes.Equal(dec, want) {
			t.Fatalf("round trip\n got %x\nwant %x", dec, want)
		}
	})
}

func mustHex(s string) []byte {
	b, err := hex.DecodeString(s)
	if err != nil {
		panic(err)
	}
	return b
}
