package srtpout

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"testing"
	"time"

	"github.com/pion/dtls/v3"
	"github.com/pion/dtls/v3/pkg/crypto/selfsign"
	"github.com/pion/rtp"
	"github.com/pion/srtp/v3"
)

// runHandshake runs a real DTLS handshake on loopback with the capture on
// the server, as the SFU's subscriber connections have it, and returns
// the server's keys as pion/dtls itself exports them.
func runHandshake(t *testing.T, c *Capture, suite dtls.CipherSuiteID, profile dtls.SRTPProtectionProfile, ems dtls.ExtendedMasterSecretType) srtp.Config {
	t.Helper()
	sc, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	cc, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	cert, err := selfsign.GenerateSelfSigned()
	if err != nil {
		t.Fatal(err)
	}
	cfg := func() *dtls.Config {
		return &dtls.Config{
			Certificates:           []tls.Certificate{cert},
			InsecureSkipVerify:     true,
			CipherSuites:           []dtls.CipherSuiteID{suite},
			SRTPProtectionProfiles: []dtls.SRTPProtectionProfile{profile},
			ExtendedMasterSecret:   ems,
		}
	}
	scfg := cfg()
	scfg.KeyLogWriter = c
	scfg.ServerHelloMessageHook = c.ServerHello
	server, err := dtls.Server(sc, cc.LocalAddr(), scfg)
	if err != nil {
		t.Fatal(err)
	}
	client, err := dtls.Client(cc, sc.LocalAddr(), cfg())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { client.Close(); server.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	errc := make(chan error, 1)
	go func() { errc <- client.HandshakeContext(ctx) }()
	if err := server.HandshakeContext(ctx); err != nil {
		t.Fatal(err)
	}
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
	state, ok := server.ConnectionState()
	if !ok {
		t.Fatal("no connection state")
	}
	want := srtp.Config{Profile: srtp.ProtectionProfile(profile)}
	if err := want.ExtractSessionKeysFromDTLS(&state, false); err != nil {
		t.Fatal(err)
	}
	return want
}

// TestCaptureDerivesDTLSKeys checks the captured keys against the ones
// pion/dtls exports for the same handshake, for each SRTP profile and
// cipher suite hash the SFU may meet.
func TestCaptureDerivesDTLSKeys(t *testing.T) {
	tests := []struct {
		name    string
		suite   dtls.CipherSuiteID
		profile dtls.SRTPProtectionProfile
		ems     dtls.ExtendedMasterSecretType
	}{
		{"gcm, sha256 suite", dtls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256, dtls.SRTP_AEAD_AES_128_GCM, dtls.RequestExtendedMasterSecret},
		{"cm-sha1-80", dtls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256, dtls.SRTP_AES128_CM_HMAC_SHA1_80, dtls.RequestExtendedMasterSecret},
		{"sha384 suite", dtls.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384, dtls.SRTP_AEAD_AES_128_GCM, dtls.RequestExtendedMasterSecret},
		{"no extended master secret", dtls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256, dtls.SRTP_AEAD_AES_128_GCM, dtls.DisableExtendedMasterSecret},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := &Capture{}
			want := runHandshake(t, c, tt.suite, tt.profile, tt.ems)
			got, err := c.Keys()
			if err != nil {
				t.Fatal(err)
			}
			if got.Profile != want.Profile || !bytes.Equal(got.Key, want.Keys.LocalMasterKey) || !bytes.Equal(got.Salt, want.Keys.LocalMasterSalt) {
				t.Fatalf("captured keys differ from pion/dtls's export")
			}
		})
	}
}

func TestCaptureIncomplete(t *testing.T) {
	c := &Capture{}
	if _, err := c.Keys(); !errors.Is(err, ErrNotCaptured) {
		t.Fatalf("empty capture: err %v", err)
	}
	// A key log alone (the SFU as DTLS client sees no ServerHello hook).
	fmt.Fprintf(c, "CLIENT_RANDOM %x %x\n", bytes.Repeat([]byte{1}, 32), bytes.Repeat([]byte{2}, 48))
	if _, err := c.Keys(); !errors.Is(err, ErrNotCaptured) {
		t.Fatalf("key log only: err %v", err)
	}
	fmt.Fprintf(c, "garbage\nCLIENT_RANDOM zz yy\n")
	if s := fmt.Sprint(c.LogValue(), Keys{Key: []byte("secret")}.LogValue()); bytes.Contains([]byte(s), []byte("secret")) {
		t.Fatalf("LogValue shows the key: %s", s)
	}
}

// pair returns a Sealer and the receiving context of the other end.
func pair(t testing.TB, profile srtp.ProtectionProfile) (*Sealer, *srtp.Context) {
	t.Helper()
	kl, _ := profile.KeyLen()
	sl, _ := profile.SaltLen()
	k := Keys{Profile: profile, Key: bytes.Repeat([]byte{7}, kl), Salt: bytes.Repeat([]byte{9}, sl)}
	s, err := NewSealer(k)
	if err != nil {
		t.Fatal(err)
	}
	rx, err := srtp.CreateContext(k.Key, k.Salt, profile)
	if err != nil {
		t.Fatal(err)
	}
	return s, rx
}

func TestSealDecrypts(t *testing.T) {
	ext := rtp.Header{Version: 2, PayloadType: 96, SSRC: 42, Extension: true, ExtensionProfile: rtp.ExtensionProfileOneByte}
	_ = ext.SetExtension(3, []byte{1, 2, 3})
	tests := []struct {
		name    string
		profile srtp.ProtectionProfile
		hdr     rtp.Header
		seqs    []uint16
	}{
		{"gcm", srtp.ProtectionProfileAeadAes128Gcm, rtp.Header{Version: 2, PayloadType: 96, SSRC: 42, Marker: true}, []uint16{1, 2, 3}},
		{"cm-sha1-80", srtp.ProtectionProfileAes128CmHmacSha1_80, rtp.Header{Version: 2, PayloadType: 111, SSRC: 7}, []uint16{10, 11}},
		{"abs-send-time extension", srtp.ProtectionProfileAeadAes128Gcm, ext, []uint16{5}},
		{"sequence wraps (rollover counter)", srtp.ProtectionProfileAeadAes128Gcm, rtp.Header{Version: 2, PayloadType: 96, SSRC: 1}, []uint16{65534, 65535, 0, 1}},
		{"resends from before and after the wrap", srtp.ProtectionProfileAeadAes128Gcm, rtp.Header{Version: 2, PayloadType: 96, SSRC: 1}, []uint16{65533, 65534, 65535, 0, 1, 65534, 2, 0, 3}},
		{"two wraps", srtp.ProtectionProfileAeadAes128Gcm, rtp.Header{Version: 2, PayloadType: 96, SSRC: 1}, []uint16{65535, 0, 20000, 40000, 60000, 65535, 0, 1}},
		{"aes-256-gcm", srtp.ProtectionProfileAeadAes256Gcm, rtp.Header{Version: 2, PayloadType: 96, SSRC: 9, CSRC: []uint32{5}}, []uint16{65535, 0}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, rx := pair(t, tt.profile)
			buf := make([]byte, 1500)
			for i, seq := range tt.seqs {
				h := tt.hdr
				h.SequenceNumber, h.Timestamp = seq, uint32(i*3000)
				payload := bytes.Repeat([]byte{byte(i + 1)}, 1100)
				n, err := s.Seal(buf, &h, payload)
				if err != nil {
					t.Fatal(err)
				}
				if n != h.MarshalSize()+len(payload)+s.Overhead() {
					t.Fatalf("sealed %d bytes, want %d", n, h.MarshalSize()+len(payload)+s.Overhead())
				}
				plain, err := rx.DecryptRTP(nil, buf[:n], nil)
				if err != nil {
					t.Fatalf("packet %d (seq %d) does not decrypt: %v", i, seq, err)
				}
				var got rtp.Packet
				if err := got.Unmarshal(plain); err != nil {
					t.Fatal(err)
				}
				if got.SequenceNumber != seq || got.SSRC != h.SSRC || !bytes.Equal(got.Payload, payload) {
					t.Fatalf("packet %d: seq %d ssrc %d, payload equal %v", i, got.SequenceNumber, got.SSRC, bytes.Equal(got.Payload, payload))
				}
			}
		})
	}
}

// TestSealSSRCsApart: a DownTrack seals its media and RTX streams with one
// Sealer; each SSRC keeps its own rollover counter.
func TestSealSSRCsApart(t *testing.T) {
	s, rx := pair(t, srtp.ProtectionProfileAeadAes128Gcm)
	buf, payload := make([]byte, 1500), bytes.Repeat([]byte{3}, 500)
	packets := []struct {
		ssrc uint32
		seq  uint16
	}{{1, 65535}, {2, 100}, {1, 0}, {2, 101}, {1, 1}, {3, 65535}, {2, 102}, {3, 0}, {1, 65535}, {2, 103}}
	for i, p := range packets {
		h := rtp.Header{Version: 2, PayloadType: 96, SSRC: p.ssrc, SequenceNumber: p.seq}
		n, err := s.Seal(buf, &h, payload)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := rx.DecryptRTP(nil, buf[:n], nil); err != nil {
			t.Fatalf("packet %d (ssrc %d, seq %d) does not decrypt: %v", i, p.ssrc, p.seq, err)
		}
	}
}

// TestSealAsPion: the Sealer's AES-GCM output is byte for byte what
// pion/srtp's EncryptRTP, which sealed before, gives for the same packets,
// so it picks the same index, hence the same nonce, in every case: runs in
// order, resends, jumps ahead of half the sequence space, wraps, two SSRCs.
func TestSealAsPion(t *testing.T) {
	walks := map[string][]uint16{
		"jump ahead in the first cycle":      {100, 40000, 40001, 65535, 0, 99, 100},
		"jump of half the space after wraps": {65535, 0, 100, 32868, 32869, 32870},
		"resends across a wrap":              {65530, 65535, 0, 3, 65533, 4, 1},
	}
	rng := rand.New(rand.NewPCG(1, 2))
	var random []uint16
	seq := uint16(rng.Uint32())
	for range 5000 {
		switch r := rng.IntN(100); {
		case r < 80:
			seq++
		case r < 88:
			seq += uint16(rng.IntN(40000))
		}
		if rng.IntN(10) == 0 {
			random = append(random, seq-uint16(rng.IntN(600))) // a resend
		}
		random = append(random, seq)
	}
	walks["random"] = random
	for name, seqs := range walks {
		t.Run(name, func(t *testing.T) {
			kl, _ := srtp.ProtectionProfileAeadAes128Gcm.KeyLen()
			sl, _ := srtp.ProtectionProfileAeadAes128Gcm.SaltLen()
			k := Keys{Profile: srtp.ProtectionProfileAeadAes128Gcm, Key: bytes.Repeat([]byte{5}, kl), Salt: bytes.Repeat([]byte{6}, sl)}
			s, err := NewSealer(k)
			if err != nil {
				t.Fatal(err)
			}
			ref, err := srtp.CreateContext(k.Key, k.Salt, k.Profile)
			if err != nil {
				t.Fatal(err)
			}
			buf, payload := make([]byte, 1500), make([]byte, 200)
			for i, seq := range seqs {
				h := rtp.Header{Version: 2, PayloadType: 96, SSRC: uint32(1 + i%2), SequenceNumber: seq}
				payload[0] = byte(i)
				n, err := s.Seal(buf, &h, payload)
				if err != nil {
					t.Fatal(err)
				}
				plain, _ := (&rtp.Packet{Header: h, Payload: payload}).Marshal()
				want, err := ref.EncryptRTP(nil, plain, nil)
				if err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(buf[:n], want) {
					t.Fatalf("packet %d (ssrc %d, seq %d) differs from pion/srtp's", i, h.SSRC, seq)
				}
			}
		})
	}
}

func TestSealShortBuffer(t *testing.T) {
	s, _ := pair(t, srtp.ProtectionProfileAeadAes128Gcm)
	h := rtp.Header{Version: 2, SSRC: 1}
	if _, err := s.Seal(make([]byte, 12+100+15), &h, make([]byte, 100)); !errors.Is(err, ErrShortBuffer) {
		t.Fatalf("err %v, want ErrShortBuffer", err)
	}
}

func TestSealNoAllocs(t *testing.T) {
	s, _ := pair(t, srtp.ProtectionProfileAeadAes128Gcm)
	h := rtp.Header{Version: 2, PayloadType: 96, SSRC: 42, Extension: true, ExtensionProfile: rtp.ExtensionProfileOneByte}
	_ = h.SetExtension(3, []byte{1, 2, 3})
	buf, payload := make([]byte, 1500), make([]byte, 1100)
	allocs := testing.AllocsPerRun(500, func() {
		h.SequenceNumber++
		if _, err := s.Seal(buf, &h, payload); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 0 {
		t.Fatalf("Seal allocates %.1f times per packet", allocs)
	}
}

// BenchmarkSeal encrypts a 1100-byte video payload into a send buffer,
// with a header as the SFU sends it to a subscriber (one one-byte
// extension, the transport-wide sequence number) or a bare one.
func BenchmarkSeal(b *testing.B) {
	for _, p := range []struct {
		name    string
		profile srtp.ProtectionProfile
		ext     bool
	}{{"gcm", srtp.ProtectionProfileAeadAes128Gcm, false}, {"gcm-extension", srtp.ProtectionProfileAeadAes128Gcm, true}, {"cm-sha1-80", srtp.ProtectionProfileAes128CmHmacSha1_80, false}} {
		b.Run(p.name, func(b *testing.B) {
			s, _ := pair(b, p.profile)
			h := rtp.Header{Version: 2, PayloadType: 96, SSRC: 42}
			if p.ext {
				h.Extension, h.ExtensionProfile = true, rtp.ExtensionProfileOneByte
				_ = h.SetExtension(5, []byte{1, 2})
			}
			buf, payload := make([]byte, 1500), make([]byte, 1100)
			b.SetBytes(int64(len(payload)))
			b.ReportAllocs()
			for b.Loop() {
				h.SequenceNumber++
				if _, err := s.Seal(buf, &h, payload); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
