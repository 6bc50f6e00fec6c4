package load

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/monkeythorn/meet/e2ee"
	"github.com/monkeythorn/meet/signaling"
	"github.com/pion/webrtc/v4"
)

// subscriber receives every track of its room on its "sub" connection.
type subscriber struct {
	*peer
	epoch     time.Time
	measuring *atomic.Bool
	roomKey   *e2ee.RoomKey
	direct    *directReceiver // nil: media through Pion's receive chain

	mu     sync.Mutex
	tracks []*recvTrack
	wg     sync.WaitGroup
}

func startSubscriber(ctx context.Context, wsURL, token, room string, roomKey *e2ee.RoomKey, epoch time.Time, measuring *atomic.Bool, opts clientOptions) (*subscriber, error) {
	var direct *directReceiver
	if opts.DirectReceive {
		direct = newDirectReceiver()
	}
	api, err := newAPI(false, opts, direct)
	if err != nil {
		return nil, err
	}
	p, err := newPeer(ctx, api, wsURL, token, room, signaling.PCSub)
	if err != nil {
		return nil, err
	}
	s := &subscriber{peer: p, epoch: epoch, measuring: measuring, roomKey: roomKey, direct: direct}
	p.pc.OnTrack(s.onTrack)
	p.serve(s.handle)
	return s, nil
}

func (s *subscriber) handle(typ string, data []byte) error {
	if typ != signaling.TypeOffer {
		return nil
	}
	var o signaling.Offer
	if err := json.Unmarshal(data, &o); err != nil {
		return fmt.Errorf("%w: offer: %v", ErrSignaling, err)
	}
	if o.PC != signaling.PCSub {
		return nil
	}
	if err := s.setRemote(webrtc.SessionDescription{Type: webrtc.SDPTypeOffer, SDP: o.SDP}); err != nil {
		return fmt.Errorf("%w: subscriber offer: %v", ErrSignaling, err)
	}
	ans, err := s.pc.CreateAnswer(nil)
	if err == nil {
		err = s.pc.SetLocalDescription(ans)
	}
	if err != nil {
		return fmt.Errorf("%w: subscriber answer: %v", ErrSignaling, err)
	}
	return s.sig.send(&signaling.Answer{Type: signaling.TypeAnswer, PC: signaling.PCSub, SDP: ans.SDP})
}

func (s *subscriber) onTrack(tr *webrtc.TrackRemote, _ *webrtc.RTPReceiver) {
	if tr.Kind() != webrtc.RTPCodecTypeVideo {
		return
	}
	var key *e2ee.SenderKey
	if s.roomKey != nil {
		// The stream id is the publisher's participant id, which is what
		// its frame key is derived from (with its source and join salt).
		k, err := s.roomKey.Frame(tr.StreamID(), e2ee.SourceCamera, benchJoinSalt())
		if err != nil {
			s.fail(err)
			return
		}
		key = k
	}
	t := newRecvTrack(s.epoch, s.measuring, key)
	s.mu.Lock()
	s.tracks = append(s.tracks, t)
	s.mu.Unlock()
	if s.direct != nil {
		// From now on the socket's reader accounts the track's packets;
		// the few Pion already holds are left unread, before the first
		// one the track counts.
		s.direct.add(uint32(tr.SSRC()), t)
		return
	}
	s.wg.Add(1)
	defer s.wg.Done()
	buf := make([]byte, 1600)
	for {
		n, _, err := tr.Read(buf)
		if err != nil {
			return
		}
		t.packet(buf[:n], time.Now())
	}
}

// snapshot returns the tracks received so far.
func (s *subscriber) snapshot() []*recvTrack {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]*recvTrack(nil), s.tracks...)
}

func (s *subscriber) close() {
	s.peer.close()
	if s.direct != nil {
		s.direct.stop()
	}
	s.wg.Wait()
}
