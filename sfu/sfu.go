package sfu

import (
	"fmt"
	"log/slog"
	"net"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/monkeythorn/meet/internal/pionlog"
	"github.com/monkeythorn/meet/sfu/rxqueue"
	"github.com/monkeythorn/meet/sfu/udpbatch"
	"github.com/pion/dtls/v3"
	"github.com/pion/ice/v4"
	"github.com/pion/interceptor"
	"github.com/pion/logging"
	"github.com/pion/sdp/v3"
	"github.com/pion/webrtc/v4"
)

// Defaults for Config fields left zero.
const (
	DefaultMaxParticipants = 100
	// DefaultMaxTracksPerParticipant: a browser sends microphone, camera,
	// screen and screen audio; simulcast layers share one track.
	DefaultMaxTracksPerParticipant = 8
	// DefaultMaxTracksPerRoom keeps the offer each subscriber gets (one
	// media section per track) and its answer well inside a signaling
	// message (64 KiB): about 250 bytes of answer per section.
	DefaultMaxTracksPerRoom = 150
	// DefaultMediaTimeout is how long a participant's media may take to
	// connect once something was negotiated; ICE on a bad network takes
	// a few seconds, through TURN over TCP perhaps ten.
	DefaultMediaTimeout = 30 * time.Second
)

// Config configures an SFU. The zero value of every field but Logger is a
// usable default.
type Config struct {
	Logger *slog.Logger
	// ListenIP is the address the media UDP port binds; "" binds all
	// interfaces.
	ListenIP string
	// UDPPort is the one UDP port carrying all media (ICE UDP mux); 0 picks
	// a free port.
	UDPPort int
	// PublicIP, when set, is advertised instead of the local addresses
	// (a server behind 1:1 NAT).
	PublicIP string
	// IncludeLoopback gathers 127.0.0.1 candidates: tests and local runs.
	IncludeLoopback bool
	// MaxParticipants caps a room; RoomTerms may lower it for one room.
	MaxParticipants int
	// MaxTracksPerParticipant and MaxTracksPerRoom cap the tracks one
	// participant may publish and a room may hold; an offer over either is
	// refused with ErrTooManyTracks. Defaults above.
	MaxTracksPerParticipant, MaxTracksPerRoom int
	// MediaTimeout removes a participant none of whose connections has
	// connected this long after the first was negotiated (an offer
	// answered or sent); default DefaultMediaTimeout.
	MediaTimeout time.Duration
	// TCPPort, when not 0, also offers ICE-TCP (RFC 6544 passive
	// candidates) on this TCP port of ListenIP, for clients whose network
	// blocks UDP but lets TCP out. 0 = off.
	TCPPort int
	// Observers hear of every room opened and closed and every
	// participant joined and left (membership.go).
	Observers []RoomObserver
	// Now reads the clock for the connected time in MemberLeft; default
	// time.Now.
	Now func() time.Time
	// Liveness sets when a subscriber that stops giving feedback is
	// paused and removed (liveness.go); zero fields take the defaults.
	Liveness LivenessConfig
}

func (c *Config) validate() error {
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.UDPPort < 0 || c.UDPPort > 65535 {
		return fmt.Errorf("%w: UDP port %d out of range", ErrBadConfig, c.UDPPort)
	}
	if c.TCPPort < 0 || c.TCPPort > 65535 {
		return fmt.Errorf("%w: TCP port %d out of range", ErrBadConfig, c.TCPPort)
	}
	if c.ListenIP != "" && net.ParseIP(c.ListenIP) == nil {
		return fmt.Errorf("%w: listen IP %q is not an IP address", ErrBadConfig, c.ListenIP)
	}
	if c.PublicIP != "" && net.ParseIP(c.PublicIP) == nil {
		return fmt.Errorf("%w: public IP %q is not an IP address", ErrBadConfig, c.PublicIP)
	}
	if c.MaxTracksPerParticipant == 0 {
		c.MaxTracksPerParticipant = DefaultMaxTracksPerParticipant
	}
	if c.MaxTracksPerRoom == 0 {
		c.MaxTracksPerRoom = DefaultMaxTracksPerRoom
	}
	if c.MediaTimeout == 0 {
		c.MediaTimeout = DefaultMediaTimeout
	}
	if c.MaxTracksPerParticipant < 0 || c.MaxTracksPerRoom < 0 || c.MediaTimeout < 0 {
		return fmt.Errorf("%w: negative track limit", ErrBadConfig)
	}
	if c.MaxParticipants == 0 {
		c.MaxParticipants = DefaultMaxParticipants
	}
	if c.MaxParticipants < 0 {
		return fmt.Errorf("%w: max participants %d is negative", ErrBadConfig, c.MaxParticipants)
	}
	return c.Liveness.defaults()
}

// SFU owns the media port and the rooms.
type SFU struct {
	cfg     Config
	log     *slog.Logger
	conn    *net.UDPConn
	batch   *udpbatch.Conn // conn for Pion, with its writes batched per fan-out
	sock    *udpbatch.Socket
	batches *batchPool // the fast path's send batches on sock (egress.go)
	// arrivals times publishers' packets as the media socket reads them.
	arrivals *arrivalTable
	fanout   *fanoutPool
	rxDrops  rxqueue.Drops // what the receive queues dropped
	mux      interface{ Close() error }
	tcp      net.Listener // ICE-TCP; nil when Config.TCPPort is 0
	tcpMux   ice.TCPMux   // its mux

	pubAPI *webrtc.API          // connections that receive from publishers
	subSE  webrtc.SettingEngine // of the connections that send to subscribers, one API each

	mu      sync.Mutex
	rooms   map[string]*Room
	closed  bool
	retired retired

	liveness [numLivenessEvents]atomic.Uint64
	done     chan struct{} // closed by Close: stops watchLiveness
	wg       sync.WaitGroup

	trackRefusals atomic.Uint64 // offers refused by the track limits
	mediaTimeouts atomic.Uint64 // participants removed by MediaTimeout
}

// New opens the media UDP port and returns an SFU ready to Join.
func New(cfg Config) (*SFU, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	// One address family per socket keeps sendmmsg simple: IPv4 unless an
	// IPv6 listen address is given.
	network, ip := "udp4", net.IPv4zero
	if cfg.ListenIP != "" {
		ip = net.ParseIP(cfg.ListenIP)
		if ip.To4() == nil {
			network = "udp6"
		}
	}
	conn, err := net.ListenUDP(network, &net.UDPAddr{IP: ip, Port: cfg.UDPPort})
	if err != nil {
		return nil, fmt.Errorf("sfu: open media UDP port %d: %w", cfg.UDPPort, err)
	}
	// Large socket buffers absorb the bursts of a key frame sent to many
	// subscribers; the kernel caps them at net.core.[rw]mem_max.
	_ = conn.SetWriteBuffer(4 << 20)
	_ = conn.SetReadBuffer(4 << 20)
	sock, err := udpbatch.NewSocket(conn)
	if err != nil {
		conn.Close()
		return nil, err
	}
	s := &SFU{cfg: cfg, log: cfg.Logger, conn: conn, batch: udpbatch.New(conn, udpbatch.DefaultSize), sock: sock, rooms: make(map[string]*Room)}
	// A batch per core for readers and fan-out workers, and a few for
	// RTCP readers answering NACKs; more are made when all are in use.
	s.batches = newBatchPool(sock, 2*runtime.GOMAXPROCS(0)+2)
	// Pion's warnings go to debug too: a misbehaving client triggers them.
	lf := pionlog.Factory{Log: cfg.Logger, Problems: slog.LevelDebug}
	s.arrivals = newArrivalTable()
	mux := webrtc.NewICEUDPMux(lf.NewLogger("udpmux"), newStampConn(conn, s.batch, s.arrivals))
	s.mux = mux

	se := webrtc.SettingEngine{LoggerFactory: lf}
	// No mDNS: Pion's default opens 0.0.0.0:5353 (and IPv6 wildcards) for
	// every peer connection, outside --media-ip, with a DNS parser that
	// anyone on the network can reach. A server has no .local names to
	// resolve or hide; browsers' mDNS candidates it cannot reach anyway.
	se.SetICEMulticastDNSMode(ice.MulticastDNSModeDisabled)
	se.SetICEUDPMux(mux)
	se.BufferFactory = s.bufferFactory
	se.SetIncludeLoopbackCandidate(cfg.IncludeLoopback)
	types := []webrtc.NetworkType{webrtc.NetworkTypeUDP4}
	if network == "udp6" {
		types = []webrtc.NetworkType{webrtc.NetworkTypeUDP6}
	}
	if cfg.TCPPort != 0 {
		if err := s.listenTCP(&se, lf, ip, network); err != nil {
			mux.Close()
			return nil, err
		}
		types = append(types, map[string]webrtc.NetworkType{"udp4": webrtc.NetworkTypeTCP4, "udp6": webrtc.NetworkTypeTCP6}[network])
	}
	se.SetNetworkTypes(types)
	if cfg.PublicIP != "" {
		se.SetNAT1To1IPs([]string{cfg.PublicIP}, webrtc.ICECandidateTypeHost)
	}
	// AES-GCM first: cheaper per packet than AES-CM + HMAC-SHA1 in pion/srtp.
	se.SetSRTPProtectionProfiles(dtls.SRTP_AEAD_AES_128_GCM, dtls.SRTP_AES128_CM_HMAC_SHA1_80)

	if s.pubAPI, err = newAPI(se, true); err != nil {
		conn.Close()
		return nil, err
	}
	s.subSE = se
	s.fanout = newFanoutPool(s.batch, s.batches)
	s.done = make(chan struct{})
	s.wg.Add(1)
	go s.watchLiveness()
	return s, nil
}

// newAPI builds the Pion API of one side. Neither side uses Pion's
// interceptors: they parse or copy every packet, and the SFU does that
// work itself without allocating (UpTrack.feedback, DownTrack.retransmit,
// senderReports). The subscriber side gets one API per connection, whose
// SettingEngine captures that connection's DTLS keys (egress.go).
func newAPI(se webrtc.SettingEngine, publisher bool) (*webrtc.API, error) {
	m := &webrtc.MediaEngine{}
	if err := registerCodecs(m, publisher); err != nil {
		return nil, err
	}
	if publisher {
		if err := webrtc.ConfigureSimulcastExtensionHeaders(m); err != nil {
			return nil, err
		}
	}
	return webrtc.NewAPI(webrtc.WithMediaEngine(m), webrtc.WithInterceptorRegistry(&interceptor.Registry{}), webrtc.WithSettingEngine(se)), nil
}

// registerCodecs offers Opus, VP8 and H.264 with the feedback the SFU uses.
// Both sides take transport-wide congestion control feedback (TWCC):
// publishers get it from the SFU (arrivalFeedback), for their browser's
// estimator, and subscribers send it to the SFU, whose estimate fits their
// layers and frames (transportcc.go). Subscribers are also offered REMB
// and abs-send-time, for a browser that does not take TWCC: it then
// estimates from the send times and reports the estimate.
func registerCodecs(m *webrtc.MediaEngine, publisher bool) error {
	twcc := webrtc.RTCPFeedback{Type: webrtc.TypeRTCPFBTransportCC}
	videoFB := []webrtc.RTCPFeedback{{Type: "nack"}, {Type: "nack", Parameter: "pli"}, {Type: "ccm", Parameter: "fir"}, twcc}
	audioFB := []webrtc.RTCPFeedback{twcc}
	for _, k := range []webrtc.RTPCodecType{webrtc.RTPCodecTypeVideo, webrtc.RTPCodecTypeAudio} {
		if err := m.RegisterHeaderExtension(webrtc.RTPHeaderExtensionCapability{URI: sdp.TransportCCURI}, k); err != nil {
			return fmt.Errorf("sfu: register transport-cc: %w", err)
		}
	}
	if !publisher {
		videoFB = append(videoFB, webrtc.RTCPFeedback{Type: "goog-remb"})
		if err := m.RegisterHeaderExtension(webrtc.RTPHeaderExtensionCapability{URI: sdp.ABSSendTimeURI}, webrtc.RTPCodecTypeVideo); err != nil {
			return fmt.Errorf("sfu: register abs-send-time: %w", err)
		}
	}
	codecs := []struct {
		c    webrtc.RTPCodecParameters
		kind webrtc.RTPCodecType
	}{
		{webrtc.RTPCodecParameters{RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeOpus, ClockRate: 48000, Channels: 2, SDPFmtpLine: "minptime=10;useinbandfec=1", RTCPFeedback: audioFB}, PayloadType: 111}, webrtc.RTPCodecTypeAudio},
		// Opus RED (RFC 2198) passes through when both ends negotiate it.
		{webrtc.RTPCodecParameters{RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: "audio/red", ClockRate: 48000, Channels: 2, SDPFmtpLine: "111/111", RTCPFeedback: audioFB}, PayloadType: 63}, webrtc.RTPCodecTypeAudio},
		{webrtc.RTPCodecParameters{RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeVP8, ClockRate: 90000, RTCPFeedback: videoFB}, PayloadType: 96}, webrtc.RTPCodecTypeVideo},
		{webrtc.RTPCodecParameters{RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeH264, ClockRate: 90000, SDPFmtpLine: "level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f", RTCPFeedback: videoFB}, PayloadType: 102}, webrtc.RTPCodecTypeVideo},
		{webrtc.RTPCodecParameters{RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeH264, ClockRate: 90000, SDPFmtpLine: "level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42001f", RTCPFeedback: videoFB}, PayloadType: 104}, webrtc.RTPCodecTypeVideo},
	}
	if !publisher {
		// Subscribers get RTX (RFC 4588): retransmissions and padding
		// probes on a stream of their own, whose loss the browser never
		// asks to repair and whose packets never collide with the media
		// stream's sequence numbers.
		for _, apt := range []webrtc.PayloadType{96, 102, 104} {
			codecs = append(codecs, struct {
				c    webrtc.RTPCodecParameters
				kind webrtc.RTPCodecType
			}{webrtc.RTPCodecParameters{RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeRTX, ClockRate: 90000, SDPFmtpLine: fmt.Sprintf("apt=%d", apt)}, PayloadType: apt + 1}, webrtc.RTPCodecTypeVideo})
		}
	}
	for _, c := range codecs {
		if err := m.RegisterCodec(c.c, c.kind); err != nil {
			return fmt.Errorf("sfu: register %s: %w", c.c.MimeType, err)
		}
	}
	// The audio level of each packet, for active speaker detection.
	if err := m.RegisterHeaderExtension(webrtc.RTPHeaderExtensionCapability{URI: sdp.AudioLevelURI}, webrtc.RTPCodecTypeAudio); err != nil {
		return fmt.Errorf("sfu: register audio level extension: %w", err)
	}
	return nil
}

// listenTCP opens the ICE-TCP port. One listener serves every connection,
// as the UDP mux does, so the firewall needs one TCP port only.
func (s *SFU) listenTCP(se *webrtc.SettingEngine, lf pionlog.Factory, ip net.IP, network string) error {
	ln, err := net.ListenTCP("tcp"+network[3:], &net.TCPAddr{IP: ip, Port: s.cfg.TCPPort})
	if err != nil {
		return fmt.Errorf("sfu: open ICE-TCP port %d: %w", s.cfg.TCPPort, err)
	}
	s.tcp = ln
	mx := newTCPMux(lf.NewLogger("tcpmux"), ln)
	s.tcpMux = mx
	se.SetICETCPMux(mx)
	return nil
}

// tcpWriteBuffer is what the ICE-TCP mux queues for one connection
// before it drops (Pion's default is 4 MB). A write never blocks the
// forwarding path: a subscriber that reads slowly or not at all loses
// packets instead. 1 MB is some 4 s of a 2 Mbit/s video, more than a call
// can use once late, and bounds what a connection that never reads holds.
const tcpWriteBuffer = 1 << 20

// newTCPMux is the ICE-TCP mux on ln.
func newTCPMux(log logging.LeveledLogger, ln net.Listener) ice.TCPMux {
	return ice.NewTCPMuxDefault(ice.TCPMuxParams{Listener: ln, Logger: log, ReadBufferSize: 64, WriteBufferSize: tcpWriteBuffer})
}

// TCPAddr returns the ICE-TCP listener's address, or nil when off.
func (s *SFU) TCPAddr() *net.TCPAddr {
	if s.tcp == nil {
		return nil
	}
	return s.tcp.Addr().(*net.TCPAddr)
}

// UDPAddr returns the media port's address.
func (s *SFU) UDPAddr() *net.UDPAddr { return s.conn.LocalAddr().(*net.UDPAddr) }

// Join adds a participant to room, opening the room on first join with
// opts.Terms.
func (s *SFU) Join(room string, opts JoinOptions) (*Participant, error) {
	if opts.Listener == nil || opts.ID == "" {
		return nil, fmt.Errorf("%w: join needs an id and a listener", ErrBadConfig)
	}
	switch m := opts.Terms.MaxParticipants; {
	case m < 0 || opts.Terms.MaxDuration < 0:
		return nil, fmt.Errorf("%w: negative room terms", ErrBadConfig)
	case m == 0 || m > s.cfg.MaxParticipants:
		opts.Terms.MaxParticipants = s.cfg.MaxParticipants
	}
	// The connections are built before any lock is taken: Pion's set-up
	// takes a while, and other rooms must not wait for it.
	p, err := newParticipant(s, opts)
	if err != nil {
		return nil, err
	}
	tracks, err := s.admit(room, p, opts)
	if err != nil {
		p.discard()
		return nil, err
	}
	go p.senderReports()
	// Outside the locks: each subscription adds a track to the
	// connection and renegotiates.
	for _, t := range tracks {
		p.subscribe(t)
	}
	return p, nil
}

// admit puts p in room, opening the room if nobody is in it, and returns
// the tracks published there.
func (s *SFU) admit(room string, p *Participant, opts JoinOptions) ([]*UpTrack, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, ErrClosed
	}
	r := s.rooms[room]
	created := r == nil
	if created {
		r = newRoom(s, room, opts.E2EE, opts.Terms)
		s.rooms[room] = r
		s.observe(RoomOpened{Room: room, Terms: r.terms})
		s.log.Debug("room opened", "room", r.log)
	}
	tracks, err := r.join(p, opts)
	if err != nil && created {
		s.dropRoom(r) // cannot happen with a cap of at least one; kept safe
	}
	return tracks, err
}

// roomEmpty drops r if nobody is left in it.
func (s *SFU) roomEmpty(r *Room) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.rooms[r.id] == r && r.empty() {
		s.dropRoom(r)
	}
}

// RoomCount returns the number of rooms with participants.
func (s *SFU) RoomCount() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.rooms)
}

// ParticipantCount returns the number of participants in all rooms.
func (s *SFU) ParticipantCount() int {
	s.mu.Lock()
	rooms := make([]*Room, 0, len(s.rooms))
	for _, r := range s.rooms {
		rooms = append(rooms, r)
	}
	s.mu.Unlock()
	n := 0
	for _, r := range rooms {
		n += r.count()
	}
	return n
}

// Close removes every participant and closes the media port.
func (s *SFU) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	var ps []*Participant
	for _, r := range s.rooms {
		ps = append(ps, r.snapshot()...)
	}
	s.mu.Unlock()
	for _, p := range ps {
		p.closeWithReason("server closing")
	}
	if s.tcpMux != nil {
		_ = s.tcpMux.Close() // closes the listener too
	}
	err := s.mux.Close()
	s.fanout.close()
	close(s.done)
	s.wg.Wait()
	return err
}
