package load

import (
	"net"

	"github.com/monkeythorn/meet/signaling"
	"github.com/pion/ice/v4"
	"github.com/pion/interceptor"
	pionnack "github.com/pion/interceptor/pkg/nack"
	"github.com/pion/sdp/v3"
	"github.com/pion/webrtc/v4"
)

// newAPI builds one client's Pion API. Each client gets its own
// SettingEngine, hence its own UDP socket (no UDP mux), gathering host
// candidates on localIP only (127.0.0.1 for a server on loopback) and no
// mDNS socket. No interceptors: no NACKs,
// reports or retransmission buffers, so loss shows as loss and the
// generator spends its CPU on SRTP and counting only. The registry must be
// given even when empty: without one, Pion installs its default
// interceptors (NACK generator and responder, reports, TWCC).
//
// clientOptions are where a client gathers and, for a subscriber, what it
// negotiates beyond media.
type clientOptions struct {
	// NACK adds a NACK generator, as browsers have, so the SFU's
	// retransmission path is exercised; lost packets that are then
	// repaired still count as received.
	NACK bool
	// TransportCC negotiates the transport-wide sequence number, as
	// browsers do, so the SFU numbers every packet it forwards (the
	// subscriber sends no feedback: the SFU then keeps its start estimate,
	// which limits nothing on a calm link).
	TransportCC bool
	// ReceiveGRO turns UDP_GRO on for the subscriber's socket: a frame
	// the SFU sends as one GSO send is queued as one buffer and split in
	// user space (recvconn.go). On loopback the receiving socket's work
	// is billed to the sender; with GRO most of it goes, as it does when
	// the subscribers are on other machines.
	ReceiveGRO bool
	// LocalIP is the only address the client gathers candidates on.
	LocalIP net.IP
	// DirectReceive decrypts and counts media in the socket's reader
	// instead of in Pion's receive chain (direct.go): a lighter
	// generator, which takes less CPU from the server on a small machine.
	DirectReceive bool
}

func newAPI(publisher bool, opts clientOptions, direct *directReceiver) (*webrtc.API, error) {
	se := webrtc.SettingEngine{}
	se.SetNetworkTypes([]webrtc.NetworkType{webrtc.NetworkTypeUDP4})
	se.SetIncludeLoopbackCandidate(opts.LocalIP.IsLoopback())
	se.SetIPFilter(func(ip net.IP) bool { return ip.Equal(opts.LocalIP) })
	se.SetICEMulticastDNSMode(ice.MulticastDNSModeDisabled)
	if !publisher && (opts.ReceiveGRO || direct != nil) {
		n, err := newRecvNet(opts.ReceiveGRO, direct)
		if err != nil {
			return nil, err
		}
		se.SetNet(n)
	}
	if !publisher && direct != nil {
		// The SFU is the DTLS server, as with browsers; the subscriber
		// reads the SRTP keys off its own handshake.
		if err := se.SetAnsweringDTLSRole(webrtc.DTLSRoleClient); err != nil {
			return nil, err
		}
		se.SetDTLSKeyLogWriter(&direct.capture)
	}
	m := &webrtc.MediaEngine{}
	fb := []webrtc.RTCPFeedback{{Type: "nack"}, {Type: "nack", Parameter: "pli"}, {Type: "ccm", Parameter: "fir"}}
	if err := m.RegisterCodec(webrtc.RTPCodecParameters{
		RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeVP8, ClockRate: 90000, RTCPFeedback: fb},
		PayloadType:        96,
	}, webrtc.RTPCodecTypeVideo); err != nil {
		return nil, err
	}
	if err := m.RegisterCodec(webrtc.RTPCodecParameters{
		RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeOpus, ClockRate: 48000, Channels: 2},
		PayloadType:        111,
	}, webrtc.RTPCodecTypeAudio); err != nil {
		return nil, err
	}
	if publisher {
		if err := webrtc.ConfigureSimulcastExtensionHeaders(m); err != nil {
			return nil, err
		}
	}
	if opts.TransportCC && !publisher {
		for _, k := range []webrtc.RTPCodecType{webrtc.RTPCodecTypeVideo, webrtc.RTPCodecTypeAudio} {
			if err := m.RegisterHeaderExtension(webrtc.RTPHeaderExtensionCapability{URI: sdp.TransportCCURI}, k); err != nil {
				return nil, err
			}
		}
	}
	ir := &interceptor.Registry{}
	if opts.NACK && !publisher {
		gen, err := pionnack.NewGeneratorInterceptor()
		if err != nil {
			return nil, err
		}
		ir.Add(gen)
	}
	return webrtc.NewAPI(webrtc.WithMediaEngine(m), webrtc.WithSettingEngine(se), webrtc.WithInterceptorRegistry(ir)), nil
}

// candidateInit converts a wire candidate to Pion's.
func candidateInit(c *signaling.ICECandidate) webrtc.ICECandidateInit {
	return webrtc.ICECandidateInit{Candidate: c.Candidate, SDPMid: c.SDPMid, SDPMLineIndex: c.SDPMLineIndex, UsernameFragment: c.UsernameFragment}
}
