package signaling

import (
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net"
	"sync"
	"time"

	"github.com/gorilla/websocket"
	"github.com/monkeythorn/meet/auth"
	"golang.org/x/time/rate"
)

// session is one WebSocket connection. The reader goroutine (run) owns the
// fields below "reader state"; the writer goroutine (writeLoop) owns the
// socket's write side; send may be called from anywhere, including the SFU.
type session struct {
	h    *Handler
	conn *websocket.Conn
	log  *slog.Logger

	out      chan []byte            // bounded: a full queue disconnects
	joined   chan (<-chan struct{}) // hands the writer the participant's Done
	quit     chan struct{}          // closed by finish
	quitOnce sync.Once
	readDone chan struct{} // closed when the reader has stopped
	// closeCode and closeText are written once before quit is closed and
	// read by the writer after it sees quit closed.
	closeCode int
	closeText string

	// candMu guards the candidate hold-back: the SFU may gather (and so
	// report) local candidates before the description they belong to is
	// on its way to the client, and a client cannot add a candidate before
	// it has that description. Index 0 is "pub" (released once the answer
	// is queued), 1 is "sub" (released once the first offer is queued).
	candMu    sync.Mutex
	candReady [2]bool
	candHeld  [2][]*Candidate

	// reader state
	p      Participant
	id     string
	meta   Meta
	grants auth.Grants
	errs   int           // bad messages in a row
	bucket *rate.Limiter // every message
	chat   *rate.Limiter // chat messages: this sender's share of the room
	// host rules (hostctl.go): the meeting this session is attached to,
	// its room and whether it joined with the host key.
	mt      *meeting
	room    string
	hostKey bool
	// admittedAt is when a host let this session in from the lobby (zero
	// if it did not wait).
	admittedAt time.Time
}

// errLeave ends the read loop after a leave message.
var errLeave = errors.New("signaling: client left")

func newSession(h *Handler, conn *websocket.Conn) *session {
	s := &session{
		h:        h,
		conn:     conn,
		log:      h.log.With("conn", h.nextConn.Add(1)),
		out:      make(chan []byte, h.cfg.SendQueue),
		joined:   make(chan (<-chan struct{}), 1),
		quit:     make(chan struct{}),
		readDone: make(chan struct{}),
		bucket:   rate.NewLimiter(rate.Limit(h.cfg.Rate), h.cfg.Burst),
		chat:     rate.NewLimiter(rate.Limit(h.cfg.ChatRate), h.cfg.ChatBurst),
	}
	conn.SetReadLimit(hardReadLimit)
	conn.SetPongHandler(func(string) error {
		return conn.SetReadDeadline(time.Now().Add(h.cfg.PongWait))
	})
	return s
}

// run is the reader: join, then dispatch until the client leaves, the
// connection fails or the session is finished.
func (s *session) run() {
	defer close(s.readDone)
	defer s.drain()
	defer s.finish(websocket.CloseNormalClosure, "")
	defer s.leaveMeeting()
	if !s.join() {
		s.h.refused.Add(1)
		return
	}
	s.h.accepted.Add(1)
	defer s.p.Close()
	for {
		_ = s.conn.SetReadDeadline(time.Now().Add(s.h.cfg.PongWait))
		data, msgErr, err := s.read()
		if err != nil {
			s.log.Debug("session ended", "why", err)
			return
		}
		select {
		case <-s.quit: // finished elsewhere: nothing more is acted on
			return
		default:
		}
		if !s.bucket.Allow() {
			s.h.disconnected.Add(1)
			s.fail(fatalErr(CodeTooManyErrors, "too many messages; slow down"))
			return
		}
		if msgErr == nil {
			msgErr = s.dispatch(data)
		}
		if errors.Is(msgErr, errLeave) {
			s.log.Debug("client left")
			return
		}
		if msgErr != nil {
			if !s.reject(msgErr) {
				return
			}
			continue
		}
		s.errs = 0
	}
}

// read returns the next text message. msgErr is a problem with this message
// only; err means the connection is unusable.
func (s *session) read() (data []byte, msgErr, err error) {
	typ, r, err := s.conn.NextReader()
	if err != nil {
		return nil, nil, err
	}
	data, err = io.ReadAll(io.LimitReader(r, MaxMessageSize+1))
	if err != nil {
		return nil, nil, err
	}
	if len(data) > MaxMessageSize {
		// Skip the rest so the connection stays usable; the hard read
		// limit bounds how much that can be.
		if _, err := io.Copy(io.Discard, r); err != nil {
			if errors.Is(err, websocket.ErrReadLimit) {
				s.fail(fatalErr(CodeTooLarge, "message far larger than the limit"))
			}
			return nil, nil, err
		}
		return nil, protoErr(CodeTooLarge, "message larger than 65536 bytes"), nil
	}
	if typ != websocket.TextMessage {
		return nil, protoErr(CodeBadMessage, "messages must be JSON text frames"), nil
	}
	return data, nil, nil
}

func (s *session) dispatch(data []byte) error {
	typ, msg, err := decode(data)
	if err != nil {
		return err
	}
	return s.h.routes[typ](s, msg)
}

// reject tells the client what was wrong with its message. It reports false
// when the session must end: the error was fatal, or the client keeps
// sending garbage.
func (s *session) reject(err error) bool {
	s.h.bad.Add(1)
	we := toWire(err)
	if we.fatal {
		s.fail(we)
		return false
	}
	s.errs++
	if s.errs >= s.h.cfg.MaxErrors {
		s.h.disconnected.Add(1)
		s.fail(fatalErr(CodeTooManyErrors, "too many bad messages in a row"))
		return false
	}
	s.send(&Error{Type: TypeError, Code: we.code, Message: we.msg})
	return true
}

// toWire maps any handler or decoder error onto the code the client sees.
func toWire(err error) *wireError {
	var we *wireError
	switch {
	case errors.As(err, &we):
		return we
	case errors.Is(err, ErrTooLarge):
		return &wireError{code: CodeTooLarge, msg: err.Error()}
	case errors.Is(err, ErrUnknownType):
		return &wireError{code: CodeUnknownType, msg: err.Error()}
	case errors.Is(err, ErrBadMessage):
		return &wireError{code: CodeBadMessage, msg: err.Error()}
	}
	return &wireError{code: CodeInternal, msg: "internal error", fatal: true}
}

// fail sends a fatal error and ends the session after it is written.
func (s *session) fail(e *wireError) {
	s.send(&Error{Type: TypeError, Code: e.code, Message: e.msg, Fatal: true})
	s.finish(closeCode(e.code), e.code)
}

func closeCode(code string) int {
	switch code {
	case CodeDraining, CodeClosed:
		return websocket.CloseGoingAway
	case CodeTooLarge:
		return websocket.CloseMessageTooBig
	case CodeInternal:
		return websocket.CloseInternalServerErr
	}
	return websocket.ClosePolicyViolation
}

// send queues v for the client without ever blocking: a client whose queue
// is full is too slow to keep up with the call and is disconnected.
func (s *session) send(v any) {
	b, err := json.Marshal(v)
	if err != nil {
		s.log.Error("encoding message", "err", err)
		return
	}
	select {
	case <-s.quit:
		return
	default:
	}
	select {
	case s.out <- b:
	default:
		s.h.slow.Add(1)
		s.log.Warn("client too slow, disconnecting", "queue", cap(s.out))
		s.finish(websocket.CloseTryAgainLater, "too slow")
	}
}

// sendDroppable queues a relayed message unless the client's queue is
// three quarters full: another sender's chat must not make a slow but
// honest receiver count as too slow and lose its call. Dropped messages
// are counted.
func (s *session) sendDroppable(v any) {
	if len(s.out) >= cap(s.out)*3/4 {
		s.h.chatDropped.Add(1)
		return
	}
	s.send(v)
}

// finish ends the session: the writer flushes what is queued, sends a close
// frame and closes the socket, which ends the reader too.
func (s *session) finish(code int, text string) {
	s.quitOnce.Do(func() {
		s.closeCode, s.closeText = code, text
		close(s.quit)
	})
}

// lingerTime and lingerBytes bound how long and how much the reader goes on
// reading, unheard, after the session is finished. Closing a socket with
// unread bytes makes the kernel reset the connection, which throws away
// what is still on its way to the client: the error that says why, and the
// close frame. A client that floods until it is cut off would never learn
// why, so the socket is closed only once the client answers the close
// frame or hangs up, or after these bounds.
const (
	lingerTime  = time.Second
	lingerBytes = 1 << 20
)

// drain reads and discards what the client still sends, within lingerTime
// and lingerBytes, until it answers the close frame or the connection ends.
func (s *session) drain() {
	_ = s.conn.SetReadDeadline(time.Now().Add(lingerTime))
	for n := int64(0); n < lingerBytes; {
		_, r, err := s.conn.NextReader()
		if err != nil {
			return
		}
		m, err := io.Copy(io.Discard, io.LimitReader(r, lingerBytes-n))
		if err != nil {
			return
		}
		n += m
	}
}

// linger waits for the reader to drain, within lingerTime.
func (s *session) linger() {
	t := time.NewTimer(lingerTime)
	defer t.Stop()
	select {
	case <-s.readDone:
	case <-t.C:
	}
}

// closeNow drops the connection without a goodbye.
func (s *session) closeNow() { _ = s.conn.Close() }

func (s *session) writeLoop() {
	defer s.h.wg.Done()
	defer s.conn.Close()
	ping := time.NewTicker(s.h.cfg.PingInterval)
	defer ping.Stop()
	var left <-chan struct{}
	for {
		select {
		case b := <-s.out:
			if err := s.write(b); err != nil {
				s.log.Debug("write failed", "err", err)
				s.finish(websocket.CloseAbnormalClosure, "")
				return
			}
		case <-ping.C:
			if err := s.conn.WriteControl(websocket.PingMessage, nil, time.Now().Add(s.h.cfg.WriteTimeout)); err != nil {
				s.finish(websocket.CloseAbnormalClosure, "")
				return
			}
		case d := <-s.joined:
			left = d
		case <-left:
			s.finish(websocket.CloseNormalClosure, "")
			s.goodbye()
			return
		case <-s.quit:
			s.goodbye()
			return
		}
	}
}

// goodbye writes what is still queued and a close frame, all within one
// write time-out so a stuck client cannot hold the writer, then lets the
// reader drain (linger) while the client may still answer the frame.
func (s *session) goodbye() {
	deadline := time.Now().Add(s.h.cfg.WriteTimeout)
	_ = s.conn.SetWriteDeadline(deadline)
	for {
		select {
		case b := <-s.out:
			if err := s.conn.WriteMessage(websocket.TextMessage, b); err != nil {
				return
			}
			continue
		default:
		}
		break
	}
	code := s.closeCode
	if code == websocket.CloseAbnormalClosure {
		return // the connection is already broken
	}
	if s.conn.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(code, s.closeText), deadline) == nil {
		s.linger()
	}
}

func (s *session) write(b []byte) error {
	if err := s.conn.SetWriteDeadline(time.Now().Add(s.h.cfg.WriteTimeout)); err != nil {
		return err
	}
	return s.conn.WriteMessage(websocket.TextMessage, b)
}

// writeNow writes v directly, for a connection refused before its writer
// started.
func (s *session) writeNow(v any) {
	b, err := json.Marshal(v)
	if err != nil {
		return
	}
	_ = s.write(b)
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}
