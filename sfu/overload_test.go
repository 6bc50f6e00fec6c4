package sfu

import (
	"bytes"
	"encoding/binary"
	"sync"
	"testing"
	"time"

	"github.com/monkeythorn/meet/internal/poll"
	"github.com/pion/webrtc/v4"
	"github.com/pion/webrtc/v4/pkg/media"
)

// slowFanout stands in for a server that cannot keep up: every forward
// takes delay, so the queue in front of the reader grows. It records, for
// each forwarded packet of publishTimed, how long after it was sent the
// reader got it.
type slowFanout struct {
	next  fanout
	delay time.Duration

	mu        sync.Mutex
	worst     time.Duration
	forwarded int
}

func (f *slowFanout) forward(downs []*DownTrack, pkts []*packet, wg *sync.WaitGroup) {
	time.Sleep(f.delay)
	f.mu.Lock()
	for _, p := range pkts {
		if i := bytes.Index(p.payload, []byte("SENT")); i >= 0 && len(p.payload) >= i+12 {
			sent := int64(binary.BigEndian.Uint64(p.payload[i+4:]))
			f.worst = max(f.worst, time.Duration(p.now-sent))
			f.forwarded++
		}
	}
	f.mu.Unlock()
	f.next.forward(downs, pkts, wg)
}

// publishTimed sends Opus packets every 20 ms carrying the publisher's
// marker and the time they were sent.
func publishTimed(t *testing.T, c *testClient, stop <-chan struct{}) {
	audio, _ := webrtc.NewTrackLocalStaticSample(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeOpus}, "a", "s")
	c.publishMicrophone(t, audio)
	go func() {
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-stop:
				return
			case <-tick.C:
			}
			p := append([]byte{0xfc}, "MARKid-"+string(c.name)+"SENT"...)
			p = binary.BigEndian.AppendUint64(p, uint64(time.Now().UnixNano()))
			audio.WriteSample(media.Sample{Data: p, Duration: 20 * time.Millisecond})
		}
	}()
}

// TestOverloadBoundsQueueDelay: a reader that needs 35 ms per packet for
// a stream of 50 packets a second falls further behind every second. The
// receive queue must drop what waited longer than maxQueueDelay, count it,
// and the SFU keep forwarding the rest no later than the bound.
func TestOverloadBoundsQueueDelay(t *testing.T) {
	s := newTestSFU(t)
	a := joinClient(t, s, "overload", 'a')
	b := joinClient(t, s, "overload", 'b')
	slow := &slowFanout{next: s.fanout, delay: 35 * time.Millisecond}
	a.p.media.fanout = slow // before publishing: UpTracks take it when made
	stop := make(chan struct{})
	defer close(stop)
	publishTimed(t, a, stop)
	poll.Until(t, 15*time.Second, "b to receive a's audio", func() bool { return b.count(a.p.ID(), "audio") > 5 })
	time.Sleep(3 * time.Second)

	st := s.Stats()
	slow.mu.Lock()
	worst, forwarded := slow.worst, slow.forwarded
	slow.mu.Unlock()
	t.Logf("dropped late %d (full %d), forwarded %d, worst delay send to read of a forwarded packet %v", st.ReceiveDrops[ReceiveLate], st.ReceiveDrops[ReceiveFull], forwarded, worst)
	if st.ReceiveDrops[ReceiveLate] == 0 {
		t.Error("no packet dropped as late although the reader falls behind")
	}
	// The bound, plus one slow forward (the reader's own lag between
	// taking a packet and this record) and scheduling on a loaded machine.
	if limit := maxQueueDelay + 250*time.Millisecond; worst > limit {
		t.Errorf("a packet reached the reader %v after it was sent; the bound is %v", worst, maxQueueDelay)
	}
	if b.count(a.p.ID(), "audio") < 20 {
		t.Errorf("b got %d audio packets: forwarding stopped", b.count(a.p.ID(), "audio"))
	}
}
