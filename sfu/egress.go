package sfu

import (
	"errors"
	"io"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"

	"github.com/monkeythorn/meet/sfu/srtpout"
	"github.com/monkeythorn/meet/sfu/udpbatch"
	"github.com/pion/ice/v4"
	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"
)

// egress is the fast path of one subscriber connection: the SRTP keys
// taken from its DTLS handshake and the path ICE chose, with which
// DownTracks seal RTP themselves (sfu/srtpout) instead of going through
// Pion's write chain. On the media UDP socket they seal straight into a
// send batch (sfu/udpbatch); on ICE-TCP they write the sealed packet to
// the connection Pion's TCP mux holds for the pair. Pion keeps ICE, DTLS,
// RTCP and negotiation.
//
// Until the keys and a path are known (and for good when the SFU is the
// DTLS client), DownTracks write through Pion as before. Once a DownTrack
// has sealed a packet it never goes back to Pion, whose SRTP context has
// not followed its rollover counter.
type egress struct {
	capture srtpout.Capture
	keys    atomic.Pointer[srtpout.Keys]
	path    atomic.Pointer[path] // nil: no path now
	batches *batchPool

	// pathMu orders the updates of path: each reads the selected pair
	// afresh, so the last one to run stores the current pair's path.
	pathMu sync.Mutex

	// mux is the SFU's ICE-TCP mux (nil when ICE-TCP is off); this
	// connection's agent reaches it through tcpMux, which keeps the
	// connections it hands out so that a TCP pair can be written to.
	mux   ice.TCPMux
	muxMu sync.Mutex
	conns []muxConn
}

// path is where a subscriber connection's sealed packets go: the remote
// address on the media UDP socket, or an ICE-TCP connection.
type path struct {
	udp netip.AddrPort // valid on the UDP socket
	tcp *tcpPath       // non-nil on ICE-TCP
}

// tcpPath is where a sealed packet goes on ICE-TCP: the mux's packet
// connection of this agent and the remote address of the TCP connection.
type tcpPath struct {
	conn net.PacketConn
	to   net.Addr
}

// muxConn is one packet connection the TCP mux gave this agent.
type muxConn struct {
	ufrag string
	conn  net.PacketConn
}

// settings returns se with the hooks that capture the DTLS secrets of
// this one connection, and its view of the ICE-TCP mux.
func (e *egress) settings(se webrtc.SettingEngine) webrtc.SettingEngine {
	se.SetDTLSKeyLogWriter(&e.capture)
	se.SetDTLSServerHelloMessageHook(e.capture.ServerHello)
	if e.mux != nil {
		se.SetICETCPMux(tcpMux{e})
	}
	return se
}

// tcpMux is the SFU's ICE-TCP mux as one connection's agent sees it.
type tcpMux struct{ e *egress }

// Close does nothing: the mux is the SFU's, closed with it.
func (m tcpMux) Close() error { return nil }

// LocalAddr is the listener's address. ICE gathers TCP candidates only on
// it when the mux tells it (an unlisted address would be offered in vain
// and expose the host's other addresses).
func (m tcpMux) LocalAddr() net.Addr {
	if a, ok := m.e.mux.(interface{ LocalAddr() net.Addr }); ok {
		return a.LocalAddr()
	}
	return nil
}

// GetConnByUfrag returns the mux's connection for ufrag on local and
// keeps it for the fast path.
func (m tcpMux) GetConnByUfrag(ufrag string, isIPv6 bool, local net.IP) (net.PacketConn, error) {
	c, err := m.e.mux.GetConnByUfrag(ufrag, isIPv6, local)
	if err != nil {
		return nil, err
	}
	m.e.muxMu.Lock()
	m.e.conns = append(m.e.conns, muxConn{ufrag: ufrag, conn: c})
	m.e.muxMu.Unlock()
	return c, nil
}

// RemoveConnByUfrag closes the connections of an old generation of
// credentials (ICE restart, close) and forgets them.
func (m tcpMux) RemoveConnByUfrag(ufrag string) {
	m.e.mux.RemoveConnByUfrag(ufrag)
	m.e.muxMu.Lock()
	kept := m.e.conns[:0]
	for _, c := range m.e.conns {
		if c.ufrag != ufrag {
			kept = append(kept, c)
		}
	}
	clear(m.e.conns[len(kept):])
	m.e.conns = kept
	m.e.muxMu.Unlock()
}

// watch follows pc's DTLS and ICE state. Pion creates the DTLS transport
// with the connection, so this works before any negotiation.
func (e *egress) watch(pc *webrtc.PeerConnection) {
	dt := pc.SCTP().Transport()
	it := dt.ICETransport()
	dt.OnStateChange(func(s webrtc.DTLSTransportState) {
		if s != webrtc.DTLSTransportStateConnected {
			return
		}
		if k, err := e.capture.Keys(); err == nil {
			e.keys.Store(&k)
		}
		e.follow(it)
	})
	it.OnSelectedCandidatePairChange(func(*webrtc.ICECandidatePair) { e.follow(it) })
	// Back on the same pair after a disconnection (no pair change), or
	// failed: follow reads the state too.
	it.OnConnectionStateChange(func(webrtc.ICETransportState) { e.follow(it) })
}

// follow takes the path of the pair ICE has selected now. When ICE has
// failed or closed no pair works (Pion keeps the last one selected):
// packets are then dropped without being numbered until one does
// (pathless), rather than sent to no one. The handlers that call it run
// in no set order, so it reads the state, not the event.
func (e *egress) follow(it *webrtc.ICETransport) {
	e.pathMu.Lock()
	defer e.pathMu.Unlock()
	var pair *webrtc.ICECandidatePair
	switch it.State() {
	case webrtc.ICETransportStateFailed, webrtc.ICETransportStateClosed:
	default:
		if p, err := it.GetSelectedCandidatePair(); err == nil {
			pair = p
		}
	}
	e.path.Store(e.pathOf(pair))
}

// pathOf is where the sealed packets of pair go: its remote address when
// the local side is the media UDP socket (every local UDP candidate of the
// SFU is), the mux's connection when it is ICE-TCP; nil for none.
func (e *egress) pathOf(pair *webrtc.ICECandidatePair) *path {
	if pair == nil || pair.Local == nil || pair.Remote == nil {
		return nil
	}
	ip, err := netip.ParseAddr(pair.Remote.Address)
	if err != nil {
		return nil
	}
	remote := netip.AddrPortFrom(ip.Unmap().WithZone(""), pair.Remote.Port)
	switch pair.Local.Protocol {
	case webrtc.ICEProtocolUDP:
		return &path{udp: remote}
	case webrtc.ICEProtocolTCP:
		local, err := netip.ParseAddr(pair.Local.Address)
		if err != nil {
			return nil
		}
		if t := e.tcpPathTo(local.Unmap().WithZone(""), remote); t != nil {
			return &path{tcp: t}
		}
	}
	return nil
}

// tcpPathTo finds the mux connection of the current credentials on local
// for a pair to remote. RemoveConnByUfrag drops an old generation's, so
// what is left is the current one's, one a local address; newest first.
// With a public address mapped onto the local one (Config.PublicIP) the
// candidate carries the public address, not the connection's: then the
// one connection of the address family is it.
func (e *egress) tcpPathTo(local netip.Addr, remote netip.AddrPort) *tcpPath {
	e.muxMu.Lock()
	defer e.muxMu.Unlock()
	var family net.PacketConn
	for i := len(e.conns) - 1; i >= 0; i-- {
		a, ok := e.conns[i].conn.LocalAddr().(*net.TCPAddr)
		if !ok {
			continue
		}
		ip, ok := netip.AddrFromSlice(a.IP)
		if !ok {
			continue
		}
		switch ip = ip.Unmap(); {
		case ip == local:
			return &tcpPath{conn: e.conns[i].conn, to: net.TCPAddrFromAddrPort(remote)}
		case family == nil && ip.Is4() == local.Is4():
			family = e.conns[i].conn
		}
	}
	if family == nil {
		return nil
	}
	return &tcpPath{conn: family, to: net.TCPAddrFromAddrPort(remote)}
}

// pathless reports whether d seals its packets but the fast path has no
// destination now (ICE between pairs): its packets cannot go out, and must
// not be numbered either, or a long outage would leave a gap of half the
// sequence space, which the rollover counter's guess (the Sealer's and the
// receiver's) takes for old packets. Called with d.mu held.
func (d *DownTrack) pathless() bool {
	return d.seal != nil && (d.egress == nil || d.egress.path.Load() == nil)
}

// emit writes one packet of d, sealed into out when the fast path is on
// the UDP socket, sealed and written to the connection on ICE-TCP, else
// through Pion. Every RTP packet of d goes through it: media, and
// retransmissions and padding on the RTX stream or, without one, on the
// media stream. Called with d.mu held.
func (d *DownTrack) emit(w *trackWriter, h *rtp.Header, payload []byte, out *udpbatch.Batch) error {
	if e := d.egress; e != nil {
		switch p := e.path.Load(); {
		case p == nil:
		case p.udp.IsValid() && out != nil:
			if s, err := d.sealer(e); s != nil || err != nil {
				if err != nil {
					return err
				}
				n, err := s.Seal(out.Slot(p.udp), h, payload)
				if err != nil {
					return err
				}
				out.Commit(n)
				return nil
			}
		case p.tcp != nil:
			if s, err := d.sealer(e); s != nil || err != nil {
				if err != nil {
					return err
				}
				return d.writeTCP(e, p, s, h, payload)
			}
		}
	}
	if d.seal != nil {
		return errNoPath
	}
	_, err := w.w.WriteRTP(h, payload)
	return err
}

// writeTCP seals a packet and writes it to the path's ICE-TCP connection.
// The mux buffers the write (tcpWriteBuffer, then drops), so it does not
// block.
// Once the connection is gone, the path is dropped too, so the packets
// that follow are not numbered (pathless) until ICE selects another.
// Called with d.mu held.
func (d *DownTrack) writeTCP(e *egress, p *path, s *srtpout.Sealer, h *rtp.Header, payload []byte) error {
	if d.tcpBuf == nil {
		d.tcpBuf = make([]byte, udpbatch.SlotSize)
	}
	n, err := s.Seal(d.tcpBuf, h, payload)
	if err != nil {
		return err
	}
	if _, err = p.tcp.conn.WriteTo(d.tcpBuf[:n], p.tcp.to); errors.Is(err, io.ErrClosedPipe) {
		e.path.CompareAndSwap(p, nil)
	}
	return err
}

// sealer returns d's Sealer, made on first use once the keys are known;
// nil without keys. Called with d.mu held.
func (d *DownTrack) sealer(e *egress) (*srtpout.Sealer, error) {
	if d.seal == nil {
		k := e.keys.Load()
		if k == nil {
			return nil, nil
		}
		s, err := srtpout.NewSealer(*k)
		if err != nil {
			return nil, err
		}
		d.seal = s
	}
	return d.seal, nil
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
