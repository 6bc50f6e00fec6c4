package sfu

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"github.com/monkeythorn/meet/internal/logbuf"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/monkeythorn/meet/e2ee"
	"github.com/pion/rtp/codecs"
	"github.com/pion/webrtc/v4"
	"github.com/pion/webrtc/v4/pkg/media"
)

// TestForwardsE2EEFramesUnchanged publishes VP8 frames encrypted with the
// Go E2EE implementation and checks that the subscriber receives
// byte-identical ciphertext that decrypts to the plaintext, and that the
// plaintext appears nowhere the SFU handled it: not in forwarded payloads,
// not in its logs at debug level.
func TestForwardsE2EEFramesUnchanged(t *testing.T) {
	const (
		linkKey = "AAECAwQFBgcICQoLDA0ODw"
		room    = "abcdefghj"
		secret  = "SECRET-PLAINTEXT"
	)
	var logs logbuf.Buffer
	s, err := New(Config{ListenIP: "127.0.0.1", IncludeLoopback: true,
		Logger: slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	rk, err := e2ee.DeriveRoomKey(linkKey, room)
	if err != nil {
		t.Fatal(err)
	}
	a := joinClient(t, s, room, 'a')
	b := joinClient(t, s, room, 'b')

	// b keeps every video payload it receives.
	var mu sync.Mutex
	var got [][]byte
	b.sub.OnTrack(func(tr *webrtc.TrackRemote, _ *webrtc.RTPReceiver) {
		if tr.Kind() != webrtc.RTPCodecTypeVideo {
			return
		}
		for {
			pkt, _, err := tr.ReadRTP()
			if err != nil {
				return
			}
			var vp8 codecs.VP8Packet
			frame, err := vp8.Unmarshal(pkt.Payload)
			if err != nil {
				continue
			}
			mu.Lock()
			got = append(got, bytes.Clone(frame))
			mu.Unlock()
		}
	})

	// a sends encrypted frames small enough for one packet each.
	sender, err := rk.Frame(a.p.ID(), e2ee.SourceCamera, e2ee.JoinSalt{})
	if err != nil {
		t.Fatal(err)
	}
	video, _ := webrtc.NewTrackLocalStaticSample(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeVP8}, "v", "s")
	if _, err := a.pub.AddTransceiverFromTrack(video, webrtc.RTPTransceiverInit{Direction: webrtc.RTPTransceiverDirectionSendonly}); err != nil {
		t.Fatal(err)
	}
	offer, _ := a.pub.CreateOffer(nil)
	if err := a.pub.SetLocalDescription(offer); err != nil {
		t.Fatal(err)
	}
	answer, err := a.p.Publish(offer.SDP, map[string]string{"0": SourceCamera})
	if err != nil {
		t.Fatal(err)
	}
	if err := a.pub.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeAnswer, SDP: answer}); err != nil {
		t.Fatal(err)
	}
	a.flush(PCPublisher)

	ivs := e2ee.NewIVSequence()
	sent := map[string]bool{} // ciphertexts sent
	stop := time.After(15 * time.Second)
	for i := 0; ; i++ {
		key := i%10 == 0
		plain := make([]byte, 10, 200)
		if key {
			copy(plain, []byte{0x10, 0x02, 0x00, 0x9d, 0x01, 0x2a, 0x40, 0x01, 0xf0, 0x00}) // VP8 key frame header
		} else {
			plain[0] = 0x11
		}
		plain = fmt.Appendf(plain, "%s-%04d", secret, i)
		plain = binary.BigEndian.AppendUint32(plain, uint32(i))
		ct, err := sender.EncryptFrame(nil, e2ee.CodecVP8, key, ivs.Next(), 0, plain)
		if err != nil {
			t.Fatal(err)
		}
		sent[string(ct)] = true
		if err := video.WriteSample(media.Sample{Data: ct, Duration: 33 * time.Millisecond}); err != nil {
			t.Fatal(err)
		}
		mu.Lock()
		n := len(got)
		mu.Unlock()
		if n >= 40 {
			break
		}
		select {
		case <-stop:
			t.Fatalf("b received %d frames in 15 s", n)
		case <-time.After(33 * time.Millisecond):
		}
	}

	// b holds the same room key and decrypts with a's sender key.
	recvKey, _ := e2ee.DeriveRoomKey(linkKey, room)
	recvSender, _ := recvKey.Frame(a.p.ID(), e2ee.SourceCamera, e2ee.JoinSalt{})
	mu.Lock()
	defer mu.Unlock()
	for i, frame := range got {
		if !sent[string(frame)] {
			t.Fatalf("frame %d is not byte-identical to a ciphertext a sent: %x", i, frame)
		}
		if bytes.Contains(frame, []byte(secret)) {
			t.Fatalf("frame %d carries the plaintext in clear", i)
		}
		plain, err := recvSender.DecryptFrame(nil, e2ee.CodecVP8, frame)
		if err != nil {
			t.Fatalf("frame %d does not decrypt: %v", i, err)
		}
		if !bytes.Contains(plain, []byte(secret)) {
			t.Fatalf("frame %d decrypts to %q", i, plain)
		}
	}
	if l := logs.String(); strings.Contains(l, secret) || strings.Contains(l, linkKey) {
		t.Fatal("the SFU's logs contain the plaintext or the key")
	}
	if logs.String() == "" {
		t.Fatal("no debug logs captured: the check above proves nothing")
	}
}
