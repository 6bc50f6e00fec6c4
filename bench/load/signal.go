package load

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"time"

	"github.com/gorilla/websocket"
	"github.com/monkeythorn/meet/signaling"
)

// sigConn is one client's signaling WebSocket. Writes are serialised; reads
// happen on one goroutine (run), which hands each message to onMessage.
type sigConn struct {
	ws  *websocket.Conn
	wmu sync.Mutex
}

// dialAndJoin connects, sends join and waits for welcome.
func dialAndJoin(ctx context.Context, wsURL, token, room string) (*sigConn, *signaling.Welcome, error) {
	dctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	ws, _, err := websocket.DefaultDialer.DialContext(dctx, wsURL, nil)
	if err != nil {
		return nil, nil, fmt.Errorf("%w: dial %s: %v", ErrSignaling, wsURL, err)
	}
	ws.SetReadLimit(4 * signaling.MaxMessageSize)
	c := &sigConn{ws: ws}
	join := signaling.Join{Type: signaling.TypeJoin, Version: signaling.Version, Token: token, Room: room}
	if err := c.send(&join); err != nil {
		ws.Close()
		return nil, nil, err
	}
	_ = ws.SetReadDeadline(time.Now().Add(10 * time.Second))
	for {
		typ, data, err := c.read()
		if err != nil {
			ws.Close()
			return nil, nil, err
		}
		switch typ {
		case signaling.TypeWelcome:
			var w signaling.Welcome
			if err := json.Unmarshal(data, &w); err != nil {
				ws.Close()
				return nil, nil, fmt.Errorf("%w: welcome: %v", ErrSignaling, err)
			}
			_ = ws.SetReadDeadline(time.Time{})
			return c, &w, nil
		case signaling.TypeError:
			ws.Close()
			return nil, nil, errorMessage(data)
		}
		// Anything else before welcome is not for us yet; the server
		// sends nothing else first, but a newer one might.
	}
}

func errorMessage(data []byte) error {
	var e signaling.Error
	_ = json.Unmarshal(data, &e)
	return fmt.Errorf("%w: server error %s: %s", ErrSignaling, e.Code, e.Message)
}

func (c *sigConn) read() (string, []byte, error) {
	_, data, err := c.ws.ReadMessage()
	if err != nil {
		return "", nil, fmt.Errorf("%w: %v", ErrSignaling, err)
	}
	var env signaling.Envelope
	if err := json.Unmarshal(data, &env); err != nil {
		return "", nil, fmt.Errorf("%w: bad message: %v", ErrSignaling, err)
	}
	return env.Type, data, nil
}

func (c *sigConn) send(v any) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	_ = c.ws.SetWriteDeadline(time.Now().Add(10 * time.Second))
	if err := c.ws.WriteJSON(v); err != nil {
		return fmt.Errorf("%w: write: %v", ErrSignaling, err)
	}
	return nil
}

// run reads messages until the connection closes, answering pings.
func (c *sigConn) run(onMessage func(typ string, data []byte)) error {
	for {
		typ, data, err := c.read()
		if err != nil {
			return err
		}
		switch typ {
		case signaling.TypePing:
			var p signaling.Ping
			_ = json.Unmarshal(data, &p)
			_ = c.send(&signaling.Pong{Type: signaling.TypePong, T: p.T})
		default:
			onMessage(typ, data)
		}
	}
}

// close says goodbye and closes; the reader's run then returns.
func (c *sigConn) close() {
	_ = c.send(&signaling.Leave{Type: signaling.TypeLeave})
	c.wmu.Lock()
	_ = c.ws.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, ""), time.Now().Add(time.Second))
	c.wmu.Unlock()
	_ = c.ws.Close()
}
