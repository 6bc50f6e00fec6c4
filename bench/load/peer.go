package load

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"

	"github.com/monkeythorn/meet/signaling"
	"github.com/pion/webrtc/v4"
)

// peer is the part publishers and subscribers share: one signaling
// connection and the one PeerConnection the bench client needs.
type peer struct {
	id   string
	kind signaling.PC
	sig  *sigConn
	pc   *webrtc.PeerConnection

	mu      sync.Mutex
	pending []webrtc.ICECandidateInit // before the remote description
	failed  error

	connected chan struct{}
	connOnce  sync.Once
	done      chan struct{} // closed when the signaling reader ends
}

func newPeer(ctx context.Context, api *webrtc.API, wsURL, token, room string, kind signaling.PC) (*peer, error) {
	sig, w, err := dialAndJoin(ctx, wsURL, token, room)
	if err != nil {
		return nil, err
	}
	pc, err := api.NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		sig.close()
		return nil, err
	}
	p := &peer{id: w.ID, kind: kind, sig: sig, pc: pc, connected: make(chan struct{}), done: make(chan struct{})}
	pc.OnICECandidate(func(c *webrtc.ICECandidate) {
		m := &signaling.Candidate{Type: signaling.TypeCandidate, PC: kind}
		if c != nil {
			ci := c.ToJSON()
			m.Candidate = &signaling.ICECandidate{Candidate: ci.Candidate, SDPMid: ci.SDPMid, SDPMLineIndex: ci.SDPMLineIndex, UsernameFragment: ci.UsernameFragment}
		}
		_ = sig.send(m)
	})
	pc.OnConnectionStateChange(func(s webrtc.PeerConnectionState) {
		if s == webrtc.PeerConnectionStateConnected {
			p.connOnce.Do(func() { close(p.connected) })
		}
	})
	return p, nil
}

// serve runs the signaling reader; handle gets offers and answers.
func (p *peer) serve(handle func(typ string, data []byte) error) {
	go func() {
		defer close(p.done)
		err := p.sig.run(func(typ string, data []byte) {
			var herr error
			switch typ {
			case signaling.TypeCandidate:
				herr = p.onCandidate(data)
			case signaling.TypeError:
				var e signaling.Error
				_ = json.Unmarshal(data, &e)
				if e.Fatal {
					herr = errorMessage(data)
				}
			default:
				herr = handle(typ, data)
			}
			if herr != nil {
				p.fail(herr)
			}
		})
		p.fail(err)
	}()
}

func (p *peer) fail(err error) {
	p.mu.Lock()
	if p.failed == nil {
		p.failed = err
	}
	p.mu.Unlock()
}

func (p *peer) err() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.failed
}

func (p *peer) onCandidate(data []byte) error {
	var c signaling.Candidate
	if err := json.Unmarshal(data, &c); err != nil {
		return fmt.Errorf("%w: candidate: %v", ErrSignaling, err)
	}
	if c.PC != p.kind || c.Candidate == nil {
		return nil // the server's other connection, or end of candidates
	}
	init := candidateInit(c.Candidate)
	p.mu.Lock()
	if p.pc.RemoteDescription() == nil {
		p.pending = append(p.pending, init)
		p.mu.Unlock()
		return nil
	}
	p.mu.Unlock()
	return p.pc.AddICECandidate(init)
}

// setRemote applies a remote description and the candidates that came
// before it.
func (p *peer) setRemote(d webrtc.SessionDescription) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if err := p.pc.SetRemoteDescription(d); err != nil {
		return err
	}
	for _, c := range p.pending {
		if err := p.pc.AddICECandidate(c); err != nil {
			return err
		}
	}
	p.pending = nil
	return nil
}

func (p *peer) close() {
	p.sig.close()
	_ = p.pc.Close()
	<-p.done
}
