package load

import (
	"encoding/binary"
	"sync"
	"sync/atomic"
	"time"

	"github.com/monkeythorn/meet/sfu/srtpout"
	"github.com/pion/dtls/v3/pkg/protocol"
	"github.com/pion/dtls/v3/pkg/protocol/handshake"
	"github.com/pion/dtls/v3/pkg/protocol/recordlayer"
	"github.com/pion/rtp"
	"github.com/pion/srtp/v3"
)

// directReceiver reads a subscriber's media in its socket's reader
// (recvConn) instead of through Pion's receive chain (ICE, mux, SRTP
// session, track buffer: a goroutine hand-off at each step), so the
// generator spends its CPU on decrypting and counting only. Pion still
// runs ICE, DTLS, RTCP and negotiation, and delivers each track's first
// packets, which fire OnTrack; from then on the track's packets are
// decrypted here.
//
// The SRTP keys are those the SFU writes with: the subscriber is the DTLS
// client, so it captures the master secret from Pion's key log and the
// server random, cipher suite and SRTP profile from the SFU's ServerHello,
// which it reads in clear off the socket; srtpout.Capture derives the
// keys from them as the SFU does for its own side (RFC 5764 §4.2).
type directReceiver struct {
	capture srtpout.Capture // give Write to SettingEngine.SetDTLSKeyLogWriter
	hello   atomic.Bool     // a ServerHello was seen
	tracks  atomic.Pointer[map[uint32]*recvTrack]
	regMu   sync.Mutex // add

	mu      sync.Mutex // the socket's readers
	stopped bool       // after stop: the tracks are no longer written
	ctx     *srtp.Context
	opened  map[uint32]bool // SSRCs of which a packet decrypted here
	hdr     rtp.Header
	plain   []byte
	bad     atomic.Int64 // packets of a registered track that did not decrypt
}

func newDirectReceiver() *directReceiver {
	r := &directReceiver{plain: make([]byte, 0, 1<<11), opened: map[uint32]bool{}}
	r.tracks.Store(&map[uint32]*recvTrack{})
	return r
}

// add hands the track's packets on ssrc to the receiver. The track's
// packet method is then called from the socket's reader only.
func (r *directReceiver) add(ssrc uint32, t *recvTrack) {
	r.regMu.Lock()
	defer r.regMu.Unlock()
	old := *r.tracks.Load()
	m := make(map[uint32]*recvTrack, len(old)+1)
	for k, v := range old {
		m[k] = v
	}
	m[ssrc] = t
	r.tracks.Store(&m)
}

// stop ends the accounting: once it returns, no track is written, so the
// run may read the tracks' samples whether or not Pion's readers ended.
func (r *directReceiver) stop() {
	r.mu.Lock()
	r.stopped = true
	r.mu.Unlock()
}

// take reports whether d, read at now, was a media packet of a registered
// track, which it then accounts; anything else is left to Pion.
func (r *directReceiver) take(d []byte, now time.Time) bool {
	switch {
	case len(d) == 0:
		return false
	case d[0] >= 20 && d[0] <= 63: // DTLS
		if !r.hello.Load() {
			r.sniffServerHello(d)
		}
		return false
	case d[0] < 128 || d[0] > 191 || len(d) < 12:
		return false // STUN, or not RTP
	case d[1] >= 192 && d[1] <= 223:
		return false // RTCP
	}
	ssrc := binary.BigEndian.Uint32(d[8:12])
	t := (*r.tracks.Load())[ssrc]
	if t == nil {
		return false
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.stopped {
		return true
	}
	if r.ctx == nil {
		keys, err := r.capture.Keys()
		if err != nil {
			return false // not yet: Pion has the packet
		}
		if r.ctx, err = srtp.CreateContext(keys.Key, keys.Salt, keys.Profile); err != nil {
			r.bad.Add(1)
			return true
		}
	}
	plain, err := r.ctx.DecryptRTP(r.plain[:0], d, &r.hdr)
	if err != nil && !r.opened[ssrc] {
		// The track's first packets went through Pion, whose rollover
		// counter this context does not see: if the SFU's sequence
		// numbers wrapped among them, it is one ahead of ours.
		r.ctx.SetROC(ssrc, 1)
		if plain, err = r.ctx.DecryptRTP(r.plain[:0], d, &r.hdr); err != nil {
			r.ctx.SetROC(ssrc, 0)
		}
	}
	if err != nil {
		r.bad.Add(1)
		return true
	}
	r.opened[ssrc] = true
	t.packet(plain, now)
	return true
}

// sniffServerHello looks for the SFU's ServerHello in a DTLS datagram of
// the handshake (sent in clear) and gives it to the capture.
func (r *directReceiver) sniffServerHello(d []byte) {
	recs, err := recordlayer.UnpackDatagram(d)
	if err != nil {
		return
	}
	for _, rec := range recs {
		var h recordlayer.Header
		if h.Unmarshal(rec) != nil || h.ContentType != protocol.ContentTypeHandshake || h.Epoch != 0 {
			continue
		}
		var hs handshake.Handshake
		if hs.Unmarshal(rec[recordlayer.FixedHeaderSize:]) != nil {
			continue
		}
		if m, ok := hs.Message.(*handshake.MessageServerHello); ok {
			r.capture.ServerHello(*m)
			r.hello.Store(true)
			return
		}
	}
}
