package sfu

import (
	"net/netip"
	"sync/atomic"

	"github.com/monkeythorn/meet/sfu/srtpout"
	"github.com/monkeythorn/meet/sfu/udpbatch"
	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"
)

// egress is the fast path of one subscriber connection: the SRTP keys
// taken from its DTLS handshake and the address ICE chose on the media
// socket, with which DownTracks seal RTP straight into a send batch
// (sfu/srtpout, sfu/udpbatch) instead of going through Pion's write
// chain. Pion keeps ICE, DTLS, RTCP and negotiation.
//
// Until both are known (and for good when the SFU is the DTLS client, or
// while ICE uses TCP), DownTracks write through Pion as before.
type egress struct {
	capture srtpout.Capture
	keys    atomic.Pointer[srtpout.Keys]
	dst     atomic.Pointer[netip.AddrPort] // nil: no path on the UDP socket
	batches *batchPool
}

// settings returns se with the hooks that capture the DTLS secrets of
// this one connection.
func (e *egress) settings(se webrtc.SettingEngine) webrtc.SettingEngine {
	se.SetDTLSKeyLogWriter(&e.capture)
	se.SetDTLSServerHelloMessageHook(e.capture.ServerHello)
	return se
}

// watch follows pc's DTLS and ICE state. Pion creates the DTLS transport
// with the connection, so this works before any negotiation.
func (e *egress) watch(pc *webrtc.PeerConnection) {
	dt := pc.SCTP().Transport()
	ice := dt.ICETransport()
	dt.OnStateChange(func(s webrtc.DTLSTransportState) {
		if s != webrtc.DTLSTransportStateConnected {
			return
		}
		if k, err := e.capture.Keys(); err == nil {
			e.keys.Store(&k)
		}
		if pair, err := ice.GetSelectedCandidatePair(); err == nil {
			e.setPair(pair)
		}
	})
	ice.OnSelectedCandidatePairChange(e.setPair)
}

// setPair takes the address of the selected pair when its local side is
// the media UDP socket (every local UDP candidate of the SFU is).
func (e *egress) setPair(pair *webrtc.ICECandidatePair) {
	if pair == nil || pair.Local == nil || pair.Remote == nil || pair.Local.Protocol != webrtc.ICEProtocolUDP {
		e.dst.Store(nil)
		return
	}
	ip, err := netip.ParseAddr(pair.Remote.Address)
	if err != nil {
		e.dst.Store(nil)
		return
	}
	dst := netip.AddrPortFrom(ip.Unmap(), pair.Remote.Port)
	e.dst.Store(&dst)
}

// emit writes one packet of d, sealed into out when the fast path is up,
// else through Pion. Every RTP packet of d goes through it: media, and
// retransmissions and padding on the RTX stream or, without one, on the
// media stream. Called with d.mu held.
// pathless reports whether d seals its packets but the fast path has no
// destination now (ICE moved off the UDP socket): its packets cannot go
// out, and must not be numbered either, or a long outage would leave a
// gap of half the sequence space, which the rollover counter's guess (the
// Sealer's and the receiver's) takes for old packets. Called with d.mu
// held.
func (d *DownTrack) pathless() bool {
	return d.seal != nil && (d.egress == nil || d.egress.dst.Load() == nil)
}

func (d *DownTrack) emit(w *trackWriter, h *rtp.Header, payload []byte, out *udpbatch.Batch) error {
	if e := d.egress; e != nil && out != nil {
		if dst := e.dst.Load(); dst != nil {
			if d.seal == nil {
				if k := e.keys.Load(); k != nil {
					s, err := srtpout.NewSealer(*k)
					if err != nil {
						return err
					}
					d.seal = s
				}
			}
			if d.seal != nil {
				n, err := d.seal.Seal(out.Slot(*dst), h, payload)
				if err != nil {
					return err
				}
				out.Commit(n)
				return nil
			}
		}
	}
	if d.seal != nil {
		return errNoPath
	}
	_, err := w.w.WriteRTP(h, payload)
	return err
}

// batchPool hands out send batches to the goroutines that forward: a
// reader flushing a frame, a fan-out worker, an RTCP reader answering a
// NACK. Each holds one only while it writes.
type batchPool struct {
	sock  *udpbatch.Socket
	free  chan *udpbatch.Batch
	slots int
}

// batchSlots is the datagrams one batch holds: the packets of a few
// frames for a few dozen subscribers per sendmmsg.
const batchSlots = 128

func newBatchPool(sock *udpbatch.Socket, n int) *batchPool {
	p := &batchPool{sock: sock, free: make(chan *udpbatch.Batch, n), slots: batchSlots}
	for range n {
		p.free <- sock.NewBatch(p.slots)
	}
	return p
}

// get returns a free batch, or a new one when all are in use.
func (p *batchPool) get() *udpbatch.Batch {
	select {
	case b := <-p.free:
		return b
	default:
		return p.sock.NewBatch(p.slots)
	}
}

// put sends what b holds and keeps it for reuse.
func (p *batchPool) put(b *udpbatch.Batch) {
	b.Flush()
	select {
	case p.free <- b:
	default:
	}
}
