package load

import (
	"bytes"
	"encoding/hex"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/monkeythorn/meet/sfu/srtpout"
	"github.com/pion/dtls/v3"
	"github.com/pion/dtls/v3/pkg/protocol"
	"github.com/pion/dtls/v3/pkg/protocol/extension"
	"github.com/pion/dtls/v3/pkg/protocol/handshake"
	"github.com/pion/dtls/v3/pkg/protocol/recordlayer"
	"github.com/pion/rtp"
	"github.com/pion/srtp/v3"
)

// TestDirectReceiver: the receiver reads the SFU's ServerHello off a
// handshake datagram, derives the keys the SFU writes with, and takes the
// media of a registered track only: decrypted and counted; a packet that
// does not decrypt is dropped and counted as bad; the rest is Pion's.
func TestDirectReceiver(t *testing.T) {
	suite := uint16(dtls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256)
	null := protocol.CompressionMethod{} // null compression, ID 0
	hello := handshake.MessageServerHello{
		Version: protocol.Version1_2, CipherSuiteID: &suite, CompressionMethod: &null,
		Extensions: []extension.Extension{&extension.UseSRTP{ProtectionProfiles: []extension.SRTPProtectionProfile{extension.SRTP_AEAD_AES_128_GCM}}},
	}
	hello.Random.RandomBytes[0] = 7
	rec := recordlayer.RecordLayer{Header: recordlayer.Header{Version: protocol.Version1_2}, Content: &handshake.Handshake{Message: &hello}}
	datagram, err := rec.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	keyLog := fmt.Sprintf("CLIENT_RANDOM %s %s\n", hex.EncodeToString(bytes.Repeat([]byte{1}, 32)), hex.EncodeToString(bytes.Repeat([]byte{2}, 48)))

	// The SFU's side: the same handshake, its write keys.
	var sfu srtpout.Capture
	sfu.Write([]byte(keyLog))
	sfu.ServerHello(hello)
	keys, err := sfu.Keys()
	if err != nil {
		t.Fatal(err)
	}
	enc, err := srtp.CreateContext(keys.Key, keys.Salt, keys.Profile)
	if err != nil {
		t.Fatal(err)
	}
	seal := func(ssrc uint32, seq uint16) []byte {
		h := rtp.Header{Version: 2, PayloadType: 96, SequenceNumber: seq, SSRC: ssrc, Marker: true}
		b, err := (&rtp.Packet{Header: h, Payload: []byte{0x10, 1, 2, 3}}).Marshal()
		if err != nil {
			t.Fatal(err)
		}
		out, err := enc.EncryptRTP(nil, b, nil)
		if err != nil {
			t.Fatal(err)
		}
		return out
	}

	r := newDirectReceiver()
	now := time.Now()
	if r.take(datagram, now) || !r.hello.Load() {
		t.Fatalf("handshake datagram: taken, or ServerHello not seen")
	}
	r.capture.Write([]byte(keyLog)) // Pion's key log, as the handshake ends
	var measuring atomic.Bool
	track := newRecvTrack(now, &measuring, nil)
	r.add(1111, track)

	tampered := seal(1111, 2)
	tampered[len(tampered)-1] ^= 1
	tests := []struct {
		name string
		d    []byte
		take bool
	}{
		{"media of the track", seal(1111, 1), true},
		{"media of an unknown SSRC", seal(2222, 1), false},
		{"tampered media", tampered, true},
		{"RTCP", []byte{0x80, 200, 0, 6, 0, 0, 0x04, 0x57, 0, 0, 0, 0}, false},
		{"STUN", []byte{0, 1, 0, 0, 0x21, 0x12, 0xa4, 0x42, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}, false},
		{"empty", nil, false},
	}
	for _, tt := range tests {
		if got := r.take(tt.d, now); got != tt.take {
			t.Errorf("%s: taken %v, want %v", tt.name, got, tt.take)
		}
	}
	if track.received.Load() != 1 || r.bad.Load() != 1 {
		t.Errorf("track received %d, bad %d; want 1 and 1", track.received.Load(), r.bad.Load())
	}
	// A track whose sequence numbers wrapped while its first packets went
	// through Pion: this receiver's rollover counter starts one behind.
	for seq := uint16(65530); seq != 5; seq++ {
		_ = seal(3333, seq) // Pion's
	}
	wrapped := newRecvTrack(now, &measuring, nil)
	r.add(3333, wrapped)
	for seq := uint16(5); seq < 8; seq++ {
		if !r.take(seal(3333, seq), now) {
			t.Fatalf("seq %d after the wrap was not taken", seq)
		}
	}
	if wrapped.received.Load() != 3 || r.bad.Load() != 1 {
		t.Errorf("after a wrap before the receiver: received %d, bad %d; want 3 and still 1", wrapped.received.Load(), r.bad.Load())
	}
	// Once stopped, the run reads the track: nothing may write it.
	r.stop()
	if !r.take(seal(1111, 3), now) || track.received.Load() != 1 {
		t.Errorf("after stop: the packet went to Pion or was counted (received %d)", track.received.Load())
	}
}
