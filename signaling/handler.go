package signaling

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"
)

// Defaults of Config, in one place.
const (
	DefaultJoinTimeout  = 10 * time.Second
	DefaultPingInterval = 20 * time.Second
	DefaultPongWait     = 45 * time.Second
	DefaultWriteTimeout = 10 * time.Second
	DefaultSendQueue    = 256
	DefaultMaxErrors    = 10
	DefaultRate         = 50  // messages per second, sustained
	DefaultBurst        = 200 // messages; covers candidate trickle at set-up
	// DefaultChatRate and DefaultChatBurst are each sender's share of the
	// room's chat: more than a person types, far less than it takes to
	// fill a receiver's queue.
	DefaultChatRate  = 5
	DefaultChatBurst = 20
)

// hardReadLimit is where the WebSocket library stops reading. Between
// MaxMessageSize and this, a message is read and refused with a too-large
// error the client can act on; beyond it the connection is dropped, so a
// client cannot make us read without bound.
const hardReadLimit = 4 * MaxMessageSize

// Config configures a Handler. Zero durations and sizes take the defaults
// above.
type Config struct {
	Logger     *slog.Logger // required
	Conference Conference   // required: the SFU
	Verifier   Verifier     // required: checks join tokens
	// Tickets issues and checks rejoin tickets (see RejoinTickets).
	// Optional: without it a participant whose connection dropped comes
	// back like a newcomer, through the lock and lobby.
	Tickets RejoinTickets
	// Checks run in order before every join reaches the Conference (and
	// before the host rules of hostctl.go); the first error refuses it
	// (admit.go). Optional.
	Checks []JoinCheck
	// ICEServers returns the iceServers for a participant's Welcome (for
	// example with fresh TURN credentials). Optional.
	ICEServers func(participantID string) []ICEServer
	// CheckOrigin decides whether a browser page from another origin may
	// connect. Nil allows only the request's own host (or non-browser
	// clients without an Origin header).
	CheckOrigin func(r *http.Request) bool
	// Admit, when set, is asked before each upgrade whether this client
	// may open one more session (rate and session caps). A refusal is
	// sent as a fatal CodeBusy error with err's text; release is called
	// when the session ends.
	Admit func(r *http.Request) (release func(), err error)

	JoinTimeout  time.Duration // time from connect to the join message
	PingInterval time.Duration // WebSocket pings to keep NATs and proxies open
	PongWait     time.Duration // silence after which a client is gone; > PingInterval
	WriteTimeout time.Duration // one write to a client
	SendQueue    int           // messages queued per client before it counts as too slow
	MaxErrors    int           // bad messages in a row before disconnecting
	Rate         float64       // messages per second a client may send
	Burst        int           // messages a client may send at once
	// ChatRate and ChatBurst bound the chat messages one sender may have
	// relayed; a sender over them is disconnected (its receivers are not).
	ChatRate  float64
	ChatBurst int
}

func (c *Config) validate() error {
	switch {
	case c.Logger == nil:
		return fmt.Errorf("%w: no Logger", ErrConfig)
	case c.Conference == nil:
		return fmt.Errorf("%w: no Conference", ErrConfig)
	case c.Verifier == nil:
		return fmt.Errorf("%w: no Verifier", ErrConfig)
	}
	def := func(d *time.Duration, v time.Duration) {
		if *d == 0 {
			*d = v
		}
	}
	def(&c.JoinTimeout, DefaultJoinTimeout)
	def(&c.PingInterval, DefaultPingInterval)
	def(&c.PongWait, DefaultPongWait)
	def(&c.WriteTimeout, DefaultWriteTimeout)
	if c.SendQueue == 0 {
		c.SendQueue = DefaultSendQueue
	}
	if c.MaxErrors == 0 {
		c.MaxErrors = DefaultMaxErrors
	}
	if c.Rate == 0 {
		c.Rate = DefaultRate
	}
	if c.Burst == 0 {
		c.Burst = DefaultBurst
	}
	if c.ChatRate == 0 {
		c.ChatRate = DefaultChatRate
	}
	if c.ChatBurst == 0 {
		c.ChatBurst = DefaultChatBurst
	}
	switch {
	case c.JoinTimeout < 0 || c.PingInterval < 0 || c.WriteTimeout < 0:
		return fmt.Errorf("%w: negative time-out", ErrConfig)
	case c.PongWait <= c.PingInterval:
		return fmt.Errorf("%w: PongWait %v must be longer than PingInterval %v", ErrConfig, c.PongWait, c.PingInterval)
	case c.SendQueue < 1 || c.MaxErrors < 1 || c.Rate <= 0 || c.Burst < 1 || c.ChatRate <= 0 || c.ChatBurst < 1:
		return fmt.Errorf("%w: SendQueue, MaxErrors, Rate, Burst, ChatRate and ChatBurst must be positive", ErrConfig)
	}
	return nil
}

// Stats counts what happened to sessions, for metrics and tests.
type Stats struct {
	Sessions      int   // open now
	SlowClients   int64 // disconnected because their send queue was full
	BadMessages   int64 // messages refused with an error
	Disconnected  int64 // disconnected for too many errors or too many messages
	RefusedJoins  int64 // joins refused (token, room full, e2ee mismatch, ...)
	AcceptedJoins int64
	ChatFloods    int64 // senders disconnected for chatting over ChatRate
	ChatDropped   int64 // relayed chat messages dropped for a receiver whose queue was filling
}

// Handler serves the signaling WebSocket. It is an http.Handler for the
// /ws route; Drain and Close end all sessions on shutdown.
type Handler struct {
	cfg      Config
	log      *slog.Logger
	upgrader websocket.Upgrader
	routes   map[string]route

	mu       sync.Mutex
	sessions map[*session]struct{}
	closed   bool
	drain    *Drain // sent to sessions that join after Drain
	wg       sync.WaitGroup

	// mmu guards meetings: the host rules and sessions of each room with
	// sessions here (meeting.go).
	mmu      sync.Mutex
	meetings map[string]*meeting

	nextConn                                   atomic.Uint64
	slow, bad, disconnected, refused, accepted atomic.Int64
	chatFloods, chatDropped                    atomic.Int64
}

// NewHandler validates cfg and returns a Handler.
func NewHandler(cfg Config) (*Handler, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	h := &Handler{
		cfg:      cfg,
		log:      cfg.Logger,
		sessions: make(map[*session]struct{}),
		meetings: make(map[string]*meeting),
		upgrader: websocket.Upgrader{
			HandshakeTimeout: cfg.JoinTimeout,
			CheckOrigin:      cfg.CheckOrigin,
			ReadBufferSize:   4096,
			WriteBufferSize:  4096,
		},
	}
	h.routes = routes()
	return h, nil
}

// ServeHTTP upgrades the request and runs the session until it ends.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var refused error
	if h.cfg.Admit != nil {
		var release func()
		if release, refused = h.cfg.Admit(r); refused == nil {
			defer release()
		}
	}
	conn, err := h.upgrader.Upgrade(w, r, nil)
	if err != nil {
		// The upgrader has already answered with an HTTP error.
		h.log.Debug("websocket upgrade failed", "err", err)
		return
	}
	s := newSession(h, conn)
	if refused != nil {
		// Upgraded anyway so the client can show why, which a bare HTTP
		// 429 on a WebSocket handshake would not let it do.
		h.refused.Add(1)
		s.writeNow(&Error{Type: TypeError, Code: CodeBusy, Message: refused.Error(), Fatal: true})
		_ = conn.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseTryAgainLater, CodeBusy), time.Now().Add(time.Second))
		s.closeNow()
		return
	}
	if !h.add(s) {
		s.writeNow(&Error{Type: TypeError, Code: CodeDraining, Message: "the server is shutting down; try again in a moment", Fatal: true})
		s.closeNow()
		return
	}
	defer h.remove(s)
	go s.writeLoop()
	s.run()
}

func (h *Handler) add(s *session) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return false
	}
	h.sessions[s] = struct{}{}
	h.wg.Add(2) // reader (ServeHTTP) and writer
	return true
}

func (h *Handler) remove(s *session) {
	h.mu.Lock()
	delete(h.sessions, s)
	h.mu.Unlock()
	h.wg.Done()
}

func (h *Handler) snapshot() []*session {
	h.mu.Lock()
	defer h.mu.Unlock()
	out := make([]*session, 0, len(h.sessions))
	for s := range h.sessions {
		out = append(out, s)
	}
	return out
}

// Drain tells every client the server is going away at deadline, so they
// can reconnect elsewhere or later. Sessions stay open until Close.
func (h *Handler) Drain(message string, deadline time.Time) {
	d := &Drain{Type: TypeDrain, Message: message, Deadline: deadline.UnixMilli()}
	h.mu.Lock()
	h.drain = d
	h.mu.Unlock()
	for _, s := range h.snapshot() {
		s.send(d)
	}
}

func (h *Handler) draining() *Drain {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.drain
}

// Close refuses new connections, ends every session (each client gets a
// close frame after its queued messages) and waits for their goroutines
// until ctx is done; then it drops the remaining connections hard.
func (h *Handler) Close(ctx context.Context) error {
	h.mu.Lock()
	h.closed = true
	h.mu.Unlock()
	for _, s := range h.snapshot() {
		s.finish(websocket.CloseGoingAway, "server shutting down")
	}
	done := make(chan struct{})
	go func() { h.wg.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
	}
	for _, s := range h.snapshot() {
		s.closeNow()
	}
	// Closing the sockets unblocks every read and write at once.
	select {
	case <-done:
	case <-time.After(time.Second):
	}
	return fmt.Errorf("signaling: closing sessions: %w", ctx.Err())
}

// Stats returns the counters.
func (h *Handler) Stats() Stats {
	h.mu.Lock()
	n := len(h.sessions)
	h.mu.Unlock()
	return Stats{
		Sessions:      n,
		SlowClients:   h.slow.Load(),
		BadMessages:   h.bad.Load(),
		Disconnected:  h.disconnected.Load(),
		RefusedJoins:  h.refused.Load(),
		AcceptedJoins: h.accepted.Load(),
		ChatFloods:    h.chatFloods.Load(),
		ChatDropped:   h.chatDropped.Load(),
	}
}
