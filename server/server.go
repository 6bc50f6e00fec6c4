package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/monkeythorn/meet/admission"
	"github.com/monkeythorn/meet/auth"
	"github.com/monkeythorn/meet/metrics"
	"github.com/monkeythorn/meet/sfu"
	"github.com/monkeythorn/meet/signaling"
	"github.com/monkeythorn/meet/turnserver"
	"github.com/monkeythorn/meet/web"
)

// Server is one MonkeyThorn Meet node: HTTP API, signaling and SFU.
type Server struct {
	cfg     Config
	log     *slog.Logger
	mux     *http.ServeMux
	handler http.Handler
	issuer  *auth.Issuer
	gate    *admission.Gate // per-address limits and session caps (limits.go)
	present *presence       // participants in a call here, for TURN (turn.go)
	sig     *signaling.Handler
	web     http.Handler
	sfu     *sfu.SFU
	billing *billingWiring // nil while billing is off
	public  *url.URL
	origins []string
	// Operations (issue 7): embedded TURN, metrics.
	turn     *turnserver.Server // nil unless Config.EmbeddedTURN
	turnURLs []string
	metrics  *metrics.Metrics
	cl       *clusterNode // nil unless Config.Cluster (cluster.go)

	draining atomic.Bool
	mu       sync.Mutex
	servers  []*http.Server
	serving  sync.WaitGroup
}

// New validates cfg, opens the SFU's media port and wires the routes.
func New(cfg Config) (*Server, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	issuer, err := auth.NewIssuer(auth.IssuerConfig{Secret: cfg.Secret, TTL: cfg.TokenTTL})
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrConfig, err)
	}
	gate, err := admission.New(cfg.Limits)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrConfig, err)
	}
	s := &Server{cfg: cfg, log: cfg.Logger, mux: http.NewServeMux(), issuer: issuer, gate: gate, present: newPresence(), web: cfg.Web}
	if s.web == nil {
		s.web = web.Handler()
	}
	if cfg.PublicURL != "" {
		s.public, _ = url.Parse(cfg.PublicURL) // checked by validate
		s.origins = append(s.origins, s.public.Scheme+"://"+s.public.Host)
	}
	s.origins = append(s.origins, cfg.AllowedOrigins...)

	// Billing first: a bad billing config must fail before anything runs.
	if err := s.setupBilling(); err != nil {
		return nil, err
	}
	cl := s.newClusterNode()
	sc := cfg.SFU
	if sc.Logger == nil {
		sc.Logger = cfg.Logger.With("component", "sfu")
	}
	sc.Observers = append(slices.Clip(sc.Observers), s.roomObservers(cl)...)
	if s.sfu, err = sfu.New(sc); err != nil {
		return nil, err
	}
	if err := s.startCluster(cl); err != nil {
		s.closeMedia()
		return nil, err
	}
	sigCfg := cfg.Signaling
	sigCfg.Logger = cfg.Logger.With("component", "signaling")
	sigCfg.Conference = signaling.SFUConference(s.sfu)
	sigCfg.Verifier = issuer
	sigCfg.Tickets = issuer
	sigCfg.Checks = append(slices.Clip(sigCfg.Checks), s.joinChecks()...)
	sigCfg.ICEServers = s.iceServers
	sigCfg.CheckOrigin = s.checkOrigin
	sigCfg.Admit = s.admitSession
	if s.sig, err = signaling.NewHandler(sigCfg); err != nil {
		s.closeMedia()
		return nil, fmt.Errorf("%w: %v", ErrConfig, err)
	}
	// After the SFU (relays may reach only its port).
	if cfg.EmbeddedTURN != nil {
		if err := s.startTURN(cfg.EmbeddedTURN, cfg.TURN.Secret); err != nil {
			s.closeMedia()
			return nil, err
		}
	}
	if s.metrics, err = s.newMetrics(); err != nil {
		s.closeMedia()
		return nil, err
	}
	s.routes()
	s.handler = securityHeaders(s.logRequests(s.admit(s.mux)))
	return s, nil
}

// The join path (docs/architecture.md): signaling verifies the token, runs
// the checks of joinChecks in order, then joins the SFU, which owns room
// membership and tells the roomObservers of every change.

// joinChecks are the decisions taken before a join: where the room lives
// (cluster), then the terms a room opened by it gets (billing).
func (s *Server) joinChecks() []signaling.JoinCheck {
	var checks []signaling.JoinCheck
	if s.cl != nil {
		checks = append(checks, s.cl.checkJoin)
	}
	if s.billing != nil {
		checks = append(checks, s.billing.checkJoin)
	}
	return checks
}

// roomObservers are who hears of rooms opened and closed and participants
// joined and left: metrics, TURN credentials (who is in a call), billing
// (metering) and the cluster (hosted rooms).
func (s *Server) roomObservers(cl *clusterNode) []sfu.RoomObserver {
	obs := []sfu.RoomObserver{joinTimer{s}, s.present}
	if s.billing != nil {
		obs = append(obs, s.billing)
	}
	if cl != nil {
		obs = append(obs, cl)
	}
	return obs
}

// closeMedia releases what New opened before failing.
func (s *Server) closeMedia() {
	if s.turn != nil {
		_ = s.turn.Close()
	}
	if s.sfu != nil {
		_ = s.sfu.Close()
	}
}

func (s *Server) routes() {
	s.registerBilling()
	s.mux.HandleFunc("/api/rooms", s.handleRooms)
	s.mux.HandleFunc("/api/token", s.handleToken)
	s.mux.HandleFunc("/api/ice", s.handleICE)
	s.mux.HandleFunc("/api/", s.handleAPINotFound)
	s.mux.Handle("GET /ws", s.sig)
	s.mux.HandleFunc("GET /healthz", s.handleHealth)
	s.mux.HandleFunc("GET /readyz", s.handleReady)
	s.mux.HandleFunc("GET /r/{code}", s.handleRoomPage)
	s.mux.Handle("/", s.web)
}

// logRequests logs each request at debug level by route pattern, never by
// path: paths carry room codes.
func (s *Server) logRequests(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !s.log.Enabled(r.Context(), slog.LevelDebug) {
			next.ServeHTTP(w, r)
			return
		}
		start := time.Now()
		next.ServeHTTP(w, r)
		s.log.Debug("http request", "method", r.Method, "route", r.Pattern, "took", time.Since(start))
	})
}

// Handler returns the server's routes, for embedding or httptest.
func (s *Server) Handler() http.Handler { return s.handler }

// MediaAddr is the SFU's UDP address.
func (s *Server) MediaAddr() *net.UDPAddr { return s.sfu.UDPAddr() }

// ICETCPAddr is the SFU's ICE-TCP address, or nil when ICE-TCP is off or
// Config.Media is set.
func (s *Server) ICETCPAddr() *net.TCPAddr {
	if s.sfu == nil {
		return nil
	}
	return s.sfu.TCPAddr()
}

// Serve serves HTTP on ln until Shutdown; it then returns
// http.ErrServerClosed.
func (s *Server) Serve(ln net.Listener) error {
	srv := s.HTTPServer(s.handler)
	s.mu.Lock()
	if s.draining.Load() {
		s.mu.Unlock()
		ln.Close()
		return http.ErrServerClosed
	}
	s.servers = append(s.servers, srv)
	s.serving.Add(1)
	s.mu.Unlock()
	defer s.serving.Done()
	return srv.Serve(ln)
}

// HTTPServer returns an http.Server for h with this node's time-outs
// (Config.HTTP), for Serve and for the binary's side listeners (metrics,
// ACME), so that no listener waits on a client forever.
func (s *Server) HTTPServer(h http.Handler) *http.Server {
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: s.cfg.HTTP.ReadHeader,
		ReadTimeout:       s.cfg.HTTP.Read,
		WriteTimeout:      s.cfg.HTTP.Write,
		IdleTimeout:       s.cfg.HTTP.Idle,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelDebug),
	}
}

// Start listens on addr ("127.0.0.1:0" in tests) and serves in the
// background until Shutdown. It returns the address actually bound.
func (s *Server) Start(addr string) (net.Addr, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("server: listen on %s: %w", addr, err)
	}
	go func() {
		if err := s.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.log.Error("serving HTTP", "err", err)
		}
	}()
	return ln.Addr(), nil
}

// Shutdown drains the node: readiness fails and new tokens are refused,
// every client is told (drain) and then disconnected, the listeners close
// and the SFU closes its rooms. It returns when everything has stopped or
// ctx is done.
func (s *Server) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	drained := s.draining.Swap(true) // Drain already told the clients
	servers := s.servers
	s.mu.Unlock()
	s.clusterDraining()

	deadline, ok := ctx.Deadline()
	if !ok {
		deadline = time.Now().Add(5 * time.Second)
	}
	if !drained {
		s.sig.Drain("the server is restarting; rejoin in a moment", deadline)
	}
	var errs []error
	for _, srv := range servers {
		errs = append(errs, srv.Shutdown(ctx))
	}
	errs = append(errs, s.sig.Close(ctx))
	errs = append(errs, s.sfu.Close())       // every MemberLeft is out when it returns
	errs = append(errs, s.closeCluster(ctx)) // after the SFU released its rooms
	if s.turn != nil {
		errs = append(errs, s.turn.Close())
	}
	errs = append(errs, s.shutdownBilling(ctx))
	done := make(chan struct{})
	go func() { s.serving.Wait(); close(done) }()
	select {
	case <-done:
	case <-ctx.Done():
		errs = append(errs, ctx.Err())
	}
	return errors.Join(errs...)
}
