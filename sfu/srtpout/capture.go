// Package srtpout encrypts the SFU's outgoing RTP straight into a send
// buffer, so the forwarding path needs neither Pion's per-packet write
// chain (interceptors, SRTP session, mux and ICE hops, a copy per hop) nor
// an allocation, while Pion keeps doing ICE, DTLS, RTCP and negotiation.
//
// Pion does not hand out the SRTP keys it derives from DTLS. Capture
// collects, during the handshake, the inputs of the RFC 5705 exporter
// through two hooks Pion's SettingEngine offers (the DTLS key log and the
// ServerHello hook) and derives the same keys (RFC 5764, section 4.2);
// Sealer encrypts with them. The SFU must then be the only writer of RTP
// on the SSRCs it seals: the same key and SSRC on two paths would repeat
// AES-GCM nonces.
package srtpout

import (
	"bytes"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/hex"
	"fmt"
	"hash"
	"log/slog"
	"sync"

	"github.com/pion/dtls/v3"
	"github.com/pion/dtls/v3/pkg/crypto/prf"
	"github.com/pion/dtls/v3/pkg/protocol/extension"
	"github.com/pion/dtls/v3/pkg/protocol/handshake"
	"github.com/pion/srtp/v3"
)

// Capture collects the secrets of one DTLS handshake in which the SFU is
// the server. Give Write to SettingEngine.SetDTLSKeyLogWriter and
// ServerHello to SettingEngine.SetDTLSServerHelloMessageHook of the one
// peer connection it belongs to. It keeps the master secret in memory
// only until Keys is called, and never prints it.
type Capture struct {
	mu           sync.Mutex
	master       []byte
	clientRandom []byte
	serverRandom [handshake.RandomLength]byte
	hello        bool // a ServerHello with use_srtp was seen
	profile      srtp.ProtectionProfile
	hashFunc     func() hash.Hash
	mki          bool
}

// Keys are the SRTP master key and salt the server writes with.
type Keys struct {
	Profile   srtp.ProtectionProfile
	Key, Salt []byte
}

// LogValue keeps the key out of logs.
func (k Keys) LogValue() slog.Value { return slog.StringValue("(srtp keys)") }

// LogValue keeps the capture's secrets out of logs.
func (c *Capture) LogValue() slog.Value { return slog.StringValue("(dtls capture)") }

// keyLogLabel starts the DTLS 1.2 key log line: client random, master secret.
const keyLogLabel = "CLIENT_RANDOM"

// Write takes key log lines ("CLIENT_RANDOM <client random> <master
// secret>", hex). It never fails: a line it cannot read leaves the
// capture incomplete, and the SFU then sends through Pion.
func (c *Capture) Write(p []byte) (int, error) {
	for line := range bytes.Lines(p) {
		f := bytes.Fields(line)
		if len(f) != 3 || string(f[0]) != keyLogLabel {
			continue
		}
		cr, err1 := hex.DecodeString(string(f[1]))
		ms, err2 := hex.DecodeString(string(f[2]))
		if err1 != nil || err2 != nil || len(cr) != handshake.RandomLength {
			continue
		}
		c.mu.Lock()
		c.clientRandom, c.master = cr, ms
		c.mu.Unlock()
	}
	return len(p), nil
}

// ServerHello notes the server random, cipher suite and SRTP profile the
// SFU sends, and returns the message unchanged.
func (c *Capture) ServerHello(m handshake.MessageServerHello) handshake.Message {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.serverRandom = m.Random.MarshalFixed()
	c.hashFunc = sha256.New // the TLS 1.2 PRF hash of every suite but the SHA-384 ones
	if m.CipherSuiteID != nil {
		switch dtls.CipherSuiteID(*m.CipherSuiteID) {
		case dtls.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384, dtls.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384:
			c.hashFunc = sha512.New384
		}
	}
	for _, e := range m.Extensions {
		if u, ok := e.(*extension.UseSRTP); ok && len(u.ProtectionProfiles) == 1 {
			c.hello = true
			c.mki = len(u.MasterKeyIdentifier) > 0
			c.profile = srtp.ProtectionProfile(u.ProtectionProfiles[0])
		}
	}
	return &m
}

// Keys derives the server's SRTP write keys once the handshake is done.
// It fails when the SFU was not the DTLS server, the handshake has not
// finished, or the negotiation uses something Sealer does not (an MKI, an
// unknown profile).
func (c *Capture) Keys() (Keys, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	switch {
	case !c.hello || c.master == nil:
		return Keys{}, ErrNotCaptured
	case c.mki:
		return Keys{}, fmt.Errorf("%w: master key identifier in use", ErrUnsupported)
	case c.profile != srtp.ProtectionProfileAeadAes128Gcm && c.profile != srtp.ProtectionProfileAes128CmHmacSha1_80:
		return Keys{}, fmt.Errorf("%w: SRTP profile %#04x", ErrUnsupported, uint16(c.profile))
	}
	cfg := srtp.Config{Profile: c.profile}
	if err := cfg.ExtractSessionKeysFromDTLS(exporter{c}, false); err != nil {
		return Keys{}, fmt.Errorf("srtpout: derive keys: %w", err)
	}
	clear(c.master)
	c.master = nil
	return Keys{Profile: c.profile, Key: cfg.Keys.LocalMasterKey, Salt: cfg.Keys.LocalMasterSalt}, nil
}

// exporter is the RFC 5705 exporter of the captured handshake, as
// DTLS 1.2 computes it: PRF(master secret, label, client random + server
// random). Called with c.mu held.
type exporter struct{ c *Capture }

func (e exporter) ExportKeyingMaterial(label string, context []byte, length int) ([]byte, error) {
	if len(context) != 0 {
		return nil, fmt.Errorf("%w: exporter context", ErrUnsupported)
	}
	seed := make([]byte, 0, len(label)+2*handshake.RandomLength)
	seed = append(append(append(seed, label...), e.c.clientRandom...), e.c.serverRandom[:]...)
	return prf.PHash(e.c.master, seed, length, e.c.hashFunc)
}
