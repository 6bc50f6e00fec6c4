package e2ee

import (
	"encoding/hex"
	"encoding/json"
	"errors"
	"os"
	"sync"
	"testing"
)

// vectors mirrors e2ee-client/testdata/vectors.json, written by an
// independent Python implementation of docs/e2ee.md.
type vectors struct {
	PBKDF2Iterations int `json:"pbkdf2_iterations"`
	Keys             []struct {
		LinkKey    string `json:"link_key"`
		Room       string `json:"room"`
		MessageKey string `json:"message_key"`
		SafetyCode string `json:"safety_code"`
		Senders    []struct {
			ID       string `json:"id"`
			Source   string `json:"source"`
			JoinSalt string `json:"join_salt"`
			FrameKey string `json:"frame_key"`
		} `json:"senders"`
	} `json:"keys"`
	Frames []struct {
		vectorFrame
		KeyFrame  bool   `json:"key_frame"`
		IV        string `json:"iv"`
		KeyIndex  byte   `json:"key_index"`
		Plaintext string `json:"plaintext"`
		Encrypted string `json:"encrypted"`
		Decrypted string `json:"decrypted"`
	} `json:"frames"`
	Tampered []struct {
		vectorFrame
		Frame string `json:"frame"`
		Error string `json:"error"`
	} `json:"tampered"`
	ReplayWindow int `json:"replay_window"`
	MaxPrefixes  int `json:"max_prefixes"`
	Replay       []struct {
		IV    string `json:"iv"`
		Fresh bool   `json:"fresh"`
	} `json:"replay"`
	Messages []struct {
		LinkKey   string `json:"link_key"`
		Room      string `json:"room"`
		Sender    string `json:"sender"`
		Kind      string `json:"kind"`
		JoinSalt  string `json:"join_salt"`
		Counter   uint64 `json:"counter"`
		IV        string `json:"iv"`
		Plaintext string `json:"plaintext"`
		Sealed    string `json:"sealed"`
	} `json:"messages"`
	BadMessages []struct {
		Name   string `json:"name"`
		Sender string `json:"sender"`
		Kind   string `json:"kind"`
		Sealed string `json:"sealed"`
	} `json:"bad_messages"`
	BadKeys []struct {
		Name    string `json:"name"`
		LinkKey string `json:"link_key"`
		Room    string `json:"room"`
	} `json:"bad_keys"`
}

// vectorFrame is what every frame of the vectors file names: the call it
// belongs to and who sent it.
type vectorFrame struct {
	Name     string `json:"name"`
	LinkKey  string `json:"link_key"`
	Room     string `json:"room"`
	Sender   string `json:"sender"`
	Source   string `json:"source"`
	JoinSalt string `json:"join_salt"`
	Codec    string `json:"codec"`
}

const vectorsPath = "../e2ee-client/testdata/vectors.json"

func loadVectors(t testing.TB) *vectors {
	t.Helper()
	b, err := os.ReadFile(vectorsPath)
	if err != nil {
		t.Fatalf("read vectors: %v", err)
	}
	var v vectors
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatalf("parse vectors: %v", err)
	}
	if len(v.Keys) == 0 || len(v.Frames) == 0 || len(v.Tampered) == 0 {
		t.Fatal("vectors file is missing sections")
	}
	return &v
}

// roomKeys caches derivations: PBKDF2 is deliberately slow.
var roomKeys = struct {
	sync.Mutex
	m map[string]*RoomKey
}{m: map[string]*RoomKey{}}

func roomKeyFor(t testing.TB, link, room string) *RoomKey {
	t.Helper()
	roomKeys.Lock()
	defer roomKeys.Unlock()
	if k, ok := roomKeys.m[link+room]; ok {
		return k
	}
	k, err := DeriveRoomKey(link, room)
	if err != nil {
		t.Fatalf("DeriveRoomKey(%q, %q): %v", link, room, err)
	}
	roomKeys.m[link+room] = k
	return k
}

func unhex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatalf("bad hex %q: %v", s, err)
	}
	return b
}

func TestVectorsKeys(t *testing.T) {
	v := loadVectors(t)
	if v.PBKDF2Iterations != PBKDF2Iterations {
		t.Fatalf("vectors use %d iterations, code %d", v.PBKDF2Iterations, PBKDF2Iterations)
	}
	for _, k := range v.Keys {
		t.Run(k.LinkKey+"/"+k.Room, func(t *testing.T) {
			rk := roomKeyFor(t, k.LinkKey, k.Room)
			mk, err := rk.expand(messageInfo, frameKeyBytes)
			if err != nil {
				t.Fatal(err)
			}
			if got := hex.EncodeToString(mk); got != k.MessageKey {
				t.Errorf("message key %s, want %s", got, k.MessageKey)
			}
			if got := rk.SafetyCode(); got != k.SafetyCode {
				t.Errorf("safety code %q, want %q", got, k.SafetyCode)
			}
			for _, s := range k.Senders {
				fk, err := rk.expandSalted(unhex(t, s.JoinSalt), frameInfo+s.Source+"/"+s.ID, frameKeyBytes)
				if err != nil {
					t.Fatal(err)
				}
				if got := hex.EncodeToString(fk); got != s.FrameKey {
					t.Errorf("frame key of %s %s: %s, want %s", s.ID, s.Source, got, s.FrameKey)
				}
				if _, err := rk.Frame(s.ID, ParseSource(s.Source), JoinSalt(unhex(t, s.JoinSalt))); err != nil {
					t.Errorf("Frame(%s, %s): %v", s.ID, s.Source, err)
				}
			}
		})
	}
	for _, b := range v.BadKeys {
		t.Run(b.Name, func(t *testing.T) {
			_, err := DeriveRoomKey(b.LinkKey, b.Room)
			if !errors.Is(err, ErrInvalidLinkKey) && !errors.Is(err, ErrInvalidRoomCode) {
				t.Fatalf("DeriveRoomKey(%q, %q) = %v, want an invalid key or room error", b.LinkKey, b.Room, err)
			}
		})
	}
}

func TestVectorsFrames(t *testing.T) {
	v := loadVectors(t)
	for _, f := range v.Frames {
		t.Run(f.Name, func(t *testing.T) {
			sk, err := roomKeyFor(t, f.LinkKey, f.Room).Frame(f.Sender, ParseSource(f.Source), JoinSalt(unhex(t, f.JoinSalt)))
			if err != nil {
				t.Fatal(err)
			}
			// A receiving key with the vector's index.
			sk = &SenderKey{aead: sk.aead, index: f.KeyIndex}
			var iv [IVLen]byte
			copy(iv[:], unhex(t, f.IV))
			prefix := []byte("prefix")
			enc, err := sk.EncryptFrame(append([]byte(nil), prefix...), ParseCodec(f.Codec), f.KeyFrame, iv, f.KeyIndex, unhex(t, f.Plaintext))
			if err != nil {
				t.Fatal(err)
			}
			if got := hex.EncodeToString(enc[len(prefix):]); got != f.Encrypted || string(enc[:len(prefix)]) != "prefix" {
				t.Fatalf("encrypted\n got %s\nwant %s", got, f.Encrypted)
			}
			dec, err := sk.DecryptFrame(nil, ParseCodec(f.Codec), unhex(t, f.Encrypted))
			if err != nil {
				t.Fatal(err)
			}
			if got := hex.EncodeToString(dec); got != f.Decrypted {
				t.Fatalf("decrypted\n got %s\nwant %s", got, f.Decrypted)
			}
		})
	}
}

var reasons = map[string]error{
	"auth":        ErrFrameAuth,
	"malformed":   ErrMalformedFrame,
	"unknown-key": ErrUnknownKeyIndex,
	"injected":    ErrInjectedFrame,
}

func TestVectorsTampered(t *testing.T) {
	v := loadVectors(t)
	for _, f := range v.Tampered {
		t.Run(f.Name, func(t *testing.T) {
			sk, err := roomKeyFor(t, f.LinkKey, f.Room).Frame(f.Sender, ParseSource(f.Source), JoinSalt(unhex(t, f.JoinSalt)))
			if err != nil {
				t.Fatal(err)
			}
			want, ok := reasons[f.Error]
			if !ok {
				t.Fatalf("unknown reason %q", f.Error)
			}
			dst := []byte("keep")
			out, err := sk.DecryptFrame(dst, ParseCodec(f.Codec), unhex(t, f.Frame))
			if !errors.Is(err, want) {
				t.Fatalf("err = %v, want %v", err, want)
			}
			if string(out) != "keep" {
				t.Fatalf("dst changed on error: %q", out)
			}
		})
	}
}

func TestVectorsReplay(t *testing.T) {
	v := loadVectors(t)
	if v.ReplayWindow != ReplayWindowSize || v.MaxPrefixes != MaxPrefixes {
		t.Fatalf("vectors: window %d, prefixes %d; code %d, %d", v.ReplayWindow, v.MaxPrefixes, ReplayWindowSize, MaxPrefixes)
	}
	var w ReplayWindow
	for i, r := range v.Replay {
		if got := w.Fresh([IVLen]byte(unhex(t, r.IV))); got != r.Fresh {
			t.Errorf("#%d %s: fresh = %v, want %v", i, r.IV, got, r.Fresh)
		}
	}
}

var kinds = map[string]MessageKind{"profile": KindProfile, "chat": KindChat}

func TestVectorsMessages(t *testing.T) {
	v := loadVectors(t)
	for _, m := range v.Messages {
		t.Run(m.Kind+"/"+m.Plaintext, func(t *testing.T) {
			rk := roomKeyFor(t, m.LinkKey, m.Room)
			ctx := SealContext{SenderID: m.Sender, Salt: JoinSalt(unhex(t, m.JoinSalt)), Kind: kinds[m.Kind], Counter: m.Counter}
			got, err := rk.sealWithIV(ctx, m.Plaintext, [IVLen]byte(unhex(t, m.IV)))
			if err != nil || got != m.Sealed {
				t.Fatalf("sealed %s (%v), want %s", got, err, m.Sealed)
			}
			o, err := rk.Open(m.Sender, kinds[m.Kind], m.Sealed)
			if err != nil || o.Text != m.Plaintext || o.Counter != m.Counter || o.Salt != ctx.Salt {
				t.Fatalf("Open = %+v, %v", o, err)
			}
		})
	}
	rk := roomKeyFor(t, v.Keys[0].LinkKey, v.Keys[0].Room)
	for _, m := range v.BadMessages {
		t.Run(m.Name, func(t *testing.T) {
			got, err := rk.Open(m.Sender, kinds[m.Kind], m.Sealed)
			if !errors.Is(err, ErrMessageAuth) && !errors.Is(err, ErrMalformedMessage) && !errors.Is(err, ErrMessageKind) {
				t.Fatalf("Open = %+v, %v; want an error", got, err)
			}
		})
	}
}
