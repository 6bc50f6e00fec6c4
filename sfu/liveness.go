package sfu

import (
	"fmt"
	"sync/atomic"
	"time"

	"github.com/pion/webrtc/v4"
)

// A subscriber proves it still receives by its RTCP: receiver reports
// whose highest sequence number moves on (or has caught up with what was
// sent). A subscriber that stops reading (a frozen tab, a path that lost
// its downstream while the WebSocket and ICE keep going) sends stale
// reports or none. Sending to it costs the server and the network for
// nothing, so after Liveness.VideoAfter of silence while video flows its
// video stops, after AudioAfter everything stops, and after RemoveAfter it
// is removed. Fresh feedback resumes everything at once (video at a key
// frame). A subscriber that never sent a receiver report is not judged:
// only its ICE consent is.

// Default liveness times (docs/sfu.md). Browsers report received video
// every second and audio-only every 5 s (randomised up to 7.5 s), so audio
// waits longer before it stops.
const (
	DefaultVideoSilence  = 3 * time.Second
	DefaultAudioSilence  = 12 * time.Second
	DefaultRemoveSilence = 20 * time.Second
)

// livenessTick is how often the SFU looks at every subscriber; it bounds
// how late a pause or removal comes.
const livenessTick = 250 * time.Millisecond

// LivenessConfig sets when a silent subscriber is paused and removed;
// zero fields take the defaults above.
type LivenessConfig struct {
	VideoAfter, AudioAfter, RemoveAfter time.Duration
}

func (c *LivenessConfig) defaults() error {
	if c.VideoAfter == 0 {
		c.VideoAfter = DefaultVideoSilence
	}
	if c.AudioAfter == 0 {
		c.AudioAfter = DefaultAudioSilence
	}
	if c.RemoveAfter == 0 {
		c.RemoveAfter = DefaultRemoveSilence
	}
	if c.VideoAfter < 0 || c.AudioAfter < c.VideoAfter || c.RemoveAfter < c.AudioAfter {
		return fmt.Errorf("%w: liveness wants 0 < video (%v) <= audio (%v) <= remove (%v)", ErrBadConfig, c.VideoAfter, c.AudioAfter, c.RemoveAfter)
	}
	return nil
}

// LivenessEvent is what the SFU did about a subscriber's silence; counted
// in Stats.Liveness.
type LivenessEvent int

const (
	LivenessUnknown     LivenessEvent = iota
	LivenessVideoPaused               // video stopped: no feedback while video flowed
	LivenessAudioPaused               // audio stopped too
	LivenessResumed                   // feedback came back; sending again
	LivenessRemoved                   // removed after RemoveAfter of silence
	numLivenessEvents
)

func (e LivenessEvent) String() string {
	switch e {
	case LivenessVideoPaused:
		return "video_paused"
	case LivenessAudioPaused:
		return "audio_paused"
	case LivenessResumed:
		return "resumed"
	case LivenessRemoved:
		return "removed"
	}
	return "unknown"
}

// Stall levels, read per packet by DownTrack.writeRTP.
const (
	stallNone int32 = iota
	stallVideo
	stallAll
)

// RemovedSilent is the Closed reason of a subscriber removed for silence.
const RemovedSilent = "your connection stopped receiving media; rejoin to continue"

// liveness is one subscriber's state. fresh and stall are shared with the
// RTCP readers and the forwarding path; the rest belongs to the SFU's
// liveness loop.
type liveness struct {
	fresh atomic.Int64 // unix ns: the subscriber had what was sent up to then; 0 = never heard
	stall atomic.Int32
	count func(LivenessEvent) // the SFU's counters

	seen                   int64 // fresh as of the last check
	removed                bool
	silentVideo, silentAny time.Duration
	sentVideo, sentAudio   uint64 // packets sent as of the last check
}

// heard records that the subscriber received what was sent at `at` (unix
// ns); it resumes a stalled subscriber at once (video at its next key
// frame: writeRTP marked it congested while stalled).
func (l *liveness) heard(at int64) {
	for {
		old := l.fresh.Load()
		if at <= old {
			return // an older track's report: nothing new
		}
		if l.fresh.CompareAndSwap(old, at) {
			break
		}
	}
	if l.stall.Swap(stallNone) != stallNone {
		l.count(LivenessResumed)
	}
}

// sentPackets sums what was sent to p, by kind.
func (p *Participant) sentPackets() (video, audio uint64) {
	p.subMu.Lock()
	defer p.subMu.Unlock()
	for _, d := range p.downs {
		d.mu.Lock()
		n := d.stats.packets
		d.mu.Unlock()
		if d.up.kind == webrtc.RTPCodecTypeVideo {
			video += n
		} else {
			audio += n
		}
	}
	return video, audio
}

// checkLiveness advances p's silence by dt and pauses or removes it.
// Silence counts only while something is sent (a subscriber with nothing
// to report on is not silent) or while it is stalled.
func (p *Participant) checkLiveness(now time.Time, dt time.Duration, c LivenessConfig) {
	l := &p.live
	fresh := l.fresh.Load()
	if fresh == 0 {
		return // never reported: not judged
	}
	if fresh != l.seen {
		// Silent since what the report acknowledged was sent; this tick
		// is counted in it.
		l.seen = fresh
		l.silentVideo = max(now.Sub(time.Unix(0, fresh)), 0)
		l.silentAny = l.silentVideo
		dt = 0
	}
	video, audio := p.sentPackets()
	sentV, sentA := video != l.sentVideo, audio != l.sentAudio
	l.sentVideo, l.sentAudio = video, audio
	stall := l.stall.Load()
	if sentV || stall != stallNone {
		l.silentVideo += dt
	}
	if sentV || sentA || stall != stallNone {
		l.silentAny += dt
	}
	switch {
	case l.silentAny >= c.RemoveAfter:
		if !l.removed {
			l.removed = true
			l.count(LivenessRemoved)
			go p.closeWithReason(RemovedSilent)
		}
	case l.silentAny >= c.AudioAfter && stall != stallAll:
		if l.stall.CompareAndSwap(stall, stallAll) {
			l.count(LivenessAudioPaused)
		}
	case l.silentVideo >= c.VideoAfter && stall == stallNone:
		if l.stall.CompareAndSwap(stallNone, stallVideo) {
			l.count(LivenessVideoPaused)
		}
	}
}

// watchLiveness checks every participant each livenessTick until done.
func (s *SFU) watchLiveness() {
	defer s.wg.Done()
	t := time.NewTicker(livenessTick)
	defer t.Stop()
	last := time.Now()
	for {
		select {
		case <-s.done:
			return
		case now := <-t.C:
			dt := now.Sub(last)
			last = now
			for _, p := range s.participants() {
				p.checkLiveness(now, dt, s.cfg.Liveness)
				p.tickDowns(now, dt)
			}
		}
	}
}

// participants lists everyone in every room.
func (s *SFU) participants() []*Participant {
	s.mu.Lock()
	rooms := make([]*Room, 0, len(s.rooms))
	for _, r := range s.rooms {
		rooms = append(rooms, r)
	}
	s.mu.Unlock()
	var ps []*Participant
	for _, r := range rooms {
		ps = append(ps, r.snapshot()...)
	}
	return ps
}

// tickDowns gives each of p's DownTracks its periodic update.
func (p *Participant) tickDowns(now time.Time, dt time.Duration) {
	p.subMu.Lock()
	downs := make([]*DownTrack, 0, len(p.downs))
	for _, d := range p.downs {
		downs = append(downs, d)
	}
	p.subMu.Unlock()
	bps, fell, ok := p.tcc.update()
	for _, d := range downs {
		if ok && d.up.kind == webrtc.RTPCodecTypeVideo {
			d.applyEstimate(bps, fell, EstimateTransportCC)
		}
		d.tick(now, dt)
	}
}

func (s *SFU) countLiveness(e LivenessEvent) { s.liveness[e].Add(1) }
