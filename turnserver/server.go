package turnserver

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"time"

	"github.com/pion/stun/v4"
	"github.com/pion/turn/v5"

	"github.com/monkeythorn/meet/auth"
	"github.com/monkeythorn/meet/internal/pionlog"
)

// DefaultRealm is the TURN realm used when Config.Realm is empty.
const DefaultRealm = "monkeythorn-meet"

// closeWait bounds how long Close waits for pion to tear down allocations.
const closeWait = 3 * time.Second

// Default idle time-outs (Config).
const (
	DefaultIdleTimeout           = 30 * time.Second
	DefaultAllocationIdleTimeout = 60 * time.Second
)

// Config configures New. Zero values take the documented defaults.
type Config struct {
	Realm  string // default DefaultRealm
	Secret []byte // shared with auth.TURNCredentials; at least auth.MinSecretLen bytes

	// Listen addresses; either may be empty to disable that transport, but
	// at least one of UDPAddr, TCPAddr and TLSAddr must be set.
	UDPAddr, TCPAddr string
	// Optional TURN over TLS; TLSConfig is required when TLSAddr is set.
	// Versions below TLS 1.3 are not offered (see the TLS promise in
	// DESIGN.md).
	TLSConfig *tls.Config
	TLSAddr   string

	// RelayIP is the address put into allocations: the public IP of the host
	// (127.0.0.1 in tests). Required.
	RelayIP net.IP
	// RelayBindIP is the local address relay sockets bind to; default
	// RelayIP. Behind 1:1 NAT (cloud VMs) set it to the private address or
	// 0.0.0.0 while RelayIP stays public.
	RelayBindIP net.IP
	// RelayPortMin and RelayPortMax restrict relay ports to a range, for
	// firewalls. Both zero: any ephemeral port.
	RelayPortMin, RelayPortMax uint16

	// AllowedPeers reports whether relays may exchange packets with ip:port;
	// port 0 asks whether any port on ip is allowed (a TURN permission
	// covers a whole IP). Required: without it the server would be an open
	// relay. Use AllowList for a fixed set of SFU media addresses.
	AllowedPeers func(ip net.IP, port int) bool

	Logger *slog.Logger // default: discard

	// MaxAllocationsPerUser caps live allocations per TURN username;
	// default DefaultMaxAllocationsPerUser. MaxAllocationsPerSource caps
	// them per client address (IPv4, IPv6 /64), default
	// DefaultMaxAllocationsPerSource, and MaxAllocations in total, default
	// DefaultMaxAllocations. Further Allocate requests get 486 Allocation
	// Quota Reached.
	MaxAllocationsPerUser, MaxAllocationsPerSource, MaxAllocations int

	// InCall, when set, reports whether the participant id of a TURN
	// username is in a call on this node. Credentials of anyone else are
	// refused, and a participant in a call may keep refreshing its
	// allocations after its credentials expire (a browser cannot swap the
	// credentials of a live allocation). Nil: credentials alone decide.
	InCall func(id string) bool

	// IdleTimeout closes a TURN TCP or TLS connection that sent nothing
	// for this long; default DefaultIdleTimeout. AllocationIdleTimeout
	// ends an allocation whose relay received nothing from the SFU for this
	// long (a relay that carries a call sees the SFU's ICE checks every few
	// seconds); default DefaultAllocationIdleTimeout.
	IdleTimeout, AllocationIdleTimeout time.Duration

	// OnAllocation is called with +1 when an allocation is created and -1
	// when it ends, for a gauge. It must not block.
	OnAllocation func(delta int)

	// Now is the clock for credential expiry; default time.Now.
	Now func() time.Time
}

// Stats are cumulative counters of refused work, by reason.
type Stats struct {
	RefusedPermissions uint64 // CreatePermission/ChannelBind for a peer IP not allowed
	DroppedToPeer      uint64 // relayed datagrams to an address not allowed
	DroppedFromPeer    uint64 // datagrams arriving at a relay from an address not allowed
	AuthFailures       uint64 // requests with unknown, wrong or expired credentials
	NotInCall          uint64 // credentials of a participant not in a call (Config.InCall)
	QuotaRefusals      uint64 // Allocate requests over MaxAllocationsPerUser
	SourceQuota        uint64 // Allocate requests over MaxAllocationsPerSource
	TotalQuota         uint64 // Allocate requests over MaxAllocations
	IdleConns          uint64 // TCP/TLS connections closed by IdleTimeout
	IdleAllocations    uint64 // allocations ended by AllocationIdleTimeout
}

// Server is a running TURN server. Close stops it.
type Server struct {
	turn  *turn.Server
	log   *slog.Logger
	stats counters

	udp       net.PacketConn
	tcp, tls  net.Listener
	conns     *connTracker
	closeOnce sync.Once
	closeErr  error
}

// New validates cfg, opens the listeners and starts serving.
func New(cfg Config) (*Server, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	cfg.defaults()
	s := &Server{log: cfg.Logger}
	s.conns = newConnTracker(cfg.IdleTimeout, &s.stats.idleConns)
	serverCfg, err := s.listen(&cfg)
	if err != nil {
		s.closeListeners()
		return nil, err
	}
	ts, err := turn.NewServer(*serverCfg)
	if err != nil {
		s.closeListeners()
		return nil, fmt.Errorf("turnserver: starting: %w", err)
	}
	s.turn = ts
	udp, tcp, tlsAddr := s.Addrs()
	s.log.Info("TURN server listening", "udp", udp, "tcp", tcp, "tls", tlsAddr, "relay_ip", cfg.RelayIP.String())
	return s, nil
}

func (c *Config) validate() error {
	switch {
	case len(c.Secret) < auth.MinSecretLen:
		return fmt.Errorf("%w: secret is %d bytes, need at least %d", ErrConfig, len(c.Secret), auth.MinSecretLen)
	case c.UDPAddr == "" && c.TCPAddr == "" && c.TLSAddr == "":
		return fmt.Errorf("%w: no listen address (set UDPAddr, TCPAddr or TLSAddr)", ErrConfig)
	case c.TLSAddr != "" && c.TLSConfig == nil:
		return fmt.Errorf("%w: TLSAddr set without TLSConfig", ErrConfig)
	case c.RelayIP == nil || c.RelayIP.IsUnspecified():
		return fmt.Errorf("%w: RelayIP must be the address clients reach relays on", ErrConfig)
	case c.AllowedPeers == nil:
		return fmt.Errorf("%w: AllowedPeers is required (an unrestricted TURN server is an open relay)", ErrConfig)
	case c.MaxAllocationsPerUser < 0 || c.MaxAllocationsPerSource < 0 || c.MaxAllocations < 0:
		return fmt.Errorf("%w: negative allocation quota", ErrConfig)
	case c.IdleTimeout < 0 || c.AllocationIdleTimeout < 0:
		return fmt.Errorf("%w: negative idle time-out", ErrConfig)
	case (c.RelayPortMin == 0) != (c.RelayPortMax == 0) || c.RelayPortMin > c.RelayPortMax:
		return fmt.Errorf("%w: relay port range %d-%d", ErrConfig, c.RelayPortMin, c.RelayPortMax)
	}
	return nil
}

func (c *Config) defaults() {
	if c.Realm == "" {
		c.Realm = DefaultRealm
	}
	if c.RelayBindIP == nil {
		c.RelayBindIP = c.RelayIP
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.OnAllocation == nil {
		c.OnAllocation = func(int) {}
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	def := func(v *int, d int) {
		if *v == 0 {
			*v = d
		}
	}
	def(&c.MaxAllocationsPerUser, DefaultMaxAllocationsPerUser)
	def(&c.MaxAllocationsPerSource, DefaultMaxAllocationsPerSource)
	def(&c.MaxAllocations, DefaultMaxAllocations)
	if c.IdleTimeout == 0 {
		c.IdleTimeout = DefaultIdleTimeout
	}
	if c.AllocationIdleTimeout == 0 {
		c.AllocationIdleTimeout = DefaultAllocationIdleTimeout
	}
	c.Secret = append([]byte(nil), c.Secret...)
}

// listen opens the configured sockets and builds pion's configuration.
func (s *Server) listen(cfg *Config) (*turn.ServerConfig, error) {
	quota := newQuotas(cfg.MaxAllocationsPerUser, cfg.MaxAllocationsPerSource, cfg.MaxAllocations)
	sc := &turn.ServerConfig{
		Realm: cfg.Realm,
		// pion logs addresses and usernames and an unauthenticated client
		// can trigger its errors at will (a failed TLS handshake): they are
		// our warnings, not our failures.
		LoggerFactory: pionlog.Factory{Log: s.log, Problems: slog.LevelWarn},
		AuthHandler:   s.authHandler(cfg),
		QuotaHandler: func(user, _ string, src net.Addr) bool {
			switch quota.allow(user, src) {
			case "":
				return true
			case quotaSource:
				s.stats.sourceQuota.Add(1)
			case quotaTotal:
				s.stats.totalQuota.Add(1)
			default:
				s.stats.quotaRefusals.Add(1)
			}
			return false
		},
		EventHandler: turn.EventHandler{
			OnAllocationCreated: func(src, _ net.Addr, _, user, _ string, _ net.Addr, _ int) {
				quota.add(user, src, 1)
				cfg.OnAllocation(1)
			},
			OnAllocationDeleted: func(src, _ net.Addr, _, user, _ string) {
				quota.add(user, src, -1)
				cfg.OnAllocation(-1)
			},
		},
	}
	gen := &relayGenerator{allowed: cfg.AllowedPeers, stats: &s.stats, min: cfg.RelayPortMin, max: cfg.RelayPortMax, idle: cfg.AllocationIdleTimeout}
	if cfg.RelayPortMin != 0 {
		gen.inner = &turn.RelayAddressGeneratorPortRange{RelayAddress: cfg.RelayIP, Address: cfg.RelayBindIP.String(),
			MinPort: cfg.RelayPortMin, MaxPort: cfg.RelayPortMax}
	} else {
		gen.inner = &turn.RelayAddressGeneratorStatic{RelayAddress: cfg.RelayIP, Address: cfg.RelayBindIP.String()}
	}
	perm := s.permissionHandler(cfg.AllowedPeers)

	var lc net.ListenConfig
	if cfg.UDPAddr != "" {
		pc, err := lc.ListenPacket(context.Background(), "udp", cfg.UDPAddr)
		if err != nil {
			return nil, fmt.Errorf("turnserver: listening on UDP %s: %w", cfg.UDPAddr, err)
		}
		s.udp = pc
		sc.PacketConnConfigs = append(sc.PacketConnConfigs, turn.PacketConnConfig{
			PacketConn: pc, RelayAddressGenerator: gen, PermissionHandler: perm})
	}
	if cfg.TCPAddr != "" {
		ln, err := lc.Listen(context.Background(), "tcp", cfg.TCPAddr)
		if err != nil {
			return nil, fmt.Errorf("turnserver: listening on TCP %s: %w", cfg.TCPAddr, err)
		}
		s.tcp = s.conns.wrap(ln)
		sc.ListenerConfigs = append(sc.ListenerConfigs, turn.ListenerConfig{
			Listener: s.tcp, RelayAddressGenerator: gen, PermissionHandler: perm})
	}
	if cfg.TLSAddr != "" {
		ln, err := lc.Listen(context.Background(), "tcp", cfg.TLSAddr)
		if err != nil {
			return nil, fmt.Errorf("turnserver: listening on TLS %s: %w", cfg.TLSAddr, err)
		}
		tc := cfg.TLSConfig.Clone()
		if tc.MinVersion < tls.VersionTLS13 {
			tc.MinVersion = tls.VersionTLS13
		}
		// Track the raw TCP connections under the TLS layer so Close
		// also ends handshakes that are still in progress.
		s.tls = tls.NewListener(s.conns.wrap(ln), tc)
		sc.ListenerConfigs = append(sc.ListenerConfigs, turn.ListenerConfig{
			Listener: s.tls, RelayAddressGenerator: gen, PermissionHandler: perm})
	}
	return sc, nil
}

// authHandler checks TURN REST credentials. The username is the user id
// pion attaches to the allocation; it is never logged.
func (s *Server) authHandler(cfg *Config) turn.AuthHandler {
	return func(ra *turn.RequestAttributes) (string, []byte, bool) {
		if cfg.InCall != nil {
			if id, _, err := auth.TURNUser(ra.Username); err == nil && !cfg.InCall(id) {
				s.stats.notInCall.Add(1)
				s.log.Debug("TURN credentials refused: the participant is not in a call here")
				return "", nil, false
			}
		}
		pass, err := auth.TURNPassword(cfg.Secret, ra.Username, cfg.Now())
		if errors.Is(err, auth.ErrTURNExpired) && cfg.InCall != nil && ra.Method != stun.MethodAllocate {
			// Still in the call (checked above): keep its allocations
			// alive; a new allocation needs fresh credentials.
			pass, err = auth.TURNMAC(cfg.Secret, ra.Username), nil
		}
		if err != nil {
			s.stats.authFailures.Add(1)
			s.log.Debug("TURN credentials refused", "err", err)
			return "", nil, false
		}
		// A wrong password is detected by pion when the message integrity
		// check with this key fails; that counts under pion's OnAuth, not here.
		return ra.Username, turn.GenerateAuthKey(ra.Username, cfg.Realm, pass), true
	}
}

func (s *Server) permissionHandler(allowed func(net.IP, int) bool) turn.PermissionHandler {
	return func(_ net.Addr, peer net.IP) bool {
		if allowed(peer, 0) {
			return true
		}
		s.stats.refusedPermissions.Add(1)
		s.log.Debug("TURN permission refused: peer is not an SFU address")
		return false
	}
}

// Addrs returns the bound listen addresses; nil for a disabled transport.
func (s *Server) Addrs() (udp, tcp, tls net.Addr) {
	if s.udp != nil {
		udp = s.udp.LocalAddr()
	}
	if s.tcp != nil {
		tcp = s.tcp.Addr()
	}
	if s.tls != nil {
		tls = s.tls.Addr()
	}
	return udp, tcp, tls
}

// Stats returns the counters of refused work.
func (s *Server) Stats() Stats {
	return Stats{
		RefusedPermissions: s.stats.refusedPermissions.Load(),
		DroppedToPeer:      s.stats.droppedToPeer.Load(),
		DroppedFromPeer:    s.stats.droppedFromPeer.Load(),
		AuthFailures:       s.stats.authFailures.Load(),
		NotInCall:          s.stats.notInCall.Load(),
		QuotaRefusals:      s.stats.quotaRefusals.Load(),
		SourceQuota:        s.stats.sourceQuota.Load(),
		TotalQuota:         s.stats.totalQuota.Load(),
		IdleConns:          s.stats.idleConns.Load(),
		IdleAllocations:    s.stats.idleAllocations.Load(),
	}
}

// AllocationCount returns the number of live allocations.
func (s *Server) AllocationCount() int { return s.turn.AllocationCount() }

// Close stops listening, ends every client connection and allocation, and
// waits (bounded) until pion has released them. It is safe to call twice.
func (s *Server) Close() error {
	s.closeOnce.Do(func() {
		err := s.turn.Close()
		// pion closes its listeners but leaves accepted TCP/TLS connections
		// (and their goroutines) to the clients; close them ourselves.
		s.conns.closeAll()
		deadline := time.Now().Add(closeWait)
		for s.turn.AllocationCount() > 0 {
			if time.Now().After(deadline) {
				err = errors.Join(err, fmt.Errorf("turnserver: %d allocations still open after %v",
					s.turn.AllocationCount(), closeWait))
				break
			}
			time.Sleep(5 * time.Millisecond)
		}
		s.closeErr = err
	})
	return s.closeErr
}

func (s *Server) closeListeners() {
	for _, c := range []interface{ Close() error }{s.udp, s.tcp, s.tls} {
		if c != nil {
			_ = c.Close()
		}
	}
}
