package ceiling

import (
	"context"
	"crypto/rand"
	"fmt"
	"net"
	"runtime"
	"time"

	"github.com/monkeythorn/meet/bench"
	"github.com/pion/rtp"
	"github.com/pion/srtp/v3"
)

// Defaults of Config, in one place.
const (
	DefaultPayloadSize = 1100 // bytes of RTP payload: a full video packet
	DefaultFanout      = 30   // simulated subscribers, each with its own SRTP context
	DefaultDuration    = 5 * time.Second
	MaxDuration        = 10 * time.Minute
	// maxBurst bounds the packets sent per pacing step, so a stalled
	// process does not catch up with one long burst.
	maxBurst = 256
)

// Config configures one sender run.
type Config struct {
	Sink        *net.UDPAddr  // where packets go; must be loopback
	Rate        int64         // packets per second; 0 sends as fast as possible
	Duration    time.Duration // default DefaultDuration, at most MaxDuration
	PayloadSize int           // default DefaultPayloadSize
	Fanout      int           // default DefaultFanout
}

func (c *Config) validate() error {
	if c.Sink == nil || !c.Sink.IP.IsLoopback() {
		return fmt.Errorf("%w: the sink must be a loopback address", ErrConfig)
	}
	if c.Duration == 0 {
		c.Duration = DefaultDuration
	}
	if c.PayloadSize == 0 {
		c.PayloadSize = DefaultPayloadSize
	}
	if c.Fanout == 0 {
		c.Fanout = DefaultFanout
	}
	switch {
	case c.Rate < 0:
		return fmt.Errorf("%w: negative rate", ErrConfig)
	case c.Duration < 0 || c.Duration > MaxDuration:
		return fmt.Errorf("%w: duration %v not in (0, %v]", ErrConfig, c.Duration, MaxDuration)
	case c.PayloadSize < 12 || c.PayloadSize > 1400:
		return fmt.Errorf("%w: payload size %d not in [12, 1400]", ErrConfig, c.PayloadSize)
	case c.Fanout < 1 || c.Fanout > 10000:
		return fmt.Errorf("%w: fanout %d not in [1, 10000]", ErrConfig, c.Fanout)
	}
	return nil
}

// downstream is one simulated subscriber: its SSRC, its rewritten
// sequence numbers and timestamps, and its SRTP session.
type downstream struct {
	ctx  *srtp.Context
	ssrc uint32
	seq  uint16
	ts   uint32
}

func newDownstream(i int) (*downstream, error) {
	key, salt := make([]byte, 16), make([]byte, 12)
	rand.Read(key)
	rand.Read(salt)
	c, err := srtp.CreateContext(key, salt, srtp.ProtectionProfileAeadAes128Gcm)
	if err != nil {
		return nil, fmt.Errorf("ceiling: srtp context: %w", err)
	}
	return &downstream{ctx: c, ssrc: 0x5eed0000 + uint32(i), seq: uint16(i * 1000), ts: uint32(i) * 90000}, nil
}

// Send runs the sender on the calling goroutine, locked to its OS thread so
// RUSAGE_THREAD measures it, and returns what it sent and what that cost.
// The Received and Receiver fields are left to the caller.
func Send(ctx context.Context, cfg Config) (*bench.CeilingResult, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	conn, err := net.DialUDP("udp", nil, cfg.Sink)
	if err != nil {
		return nil, fmt.Errorf("ceiling: dial sink: %w", err)
	}
	defer conn.Close()
	downs := make([]*downstream, cfg.Fanout)
	for i := range downs {
		if downs[i], err = newDownstream(i); err != nil {
			return nil, err
		}
	}
	payload := bench.BuildFrame(nil, false, cfg.PayloadSize, 0, 0)
	hdr := rtp.Header{Version: 2, PayloadType: 96}
	plain := make([]byte, 0, 1500)
	out := make([]byte, 0, 1600)

	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	cpu0, thr0 := bench.SelfCPU(), bench.ThreadCPU()
	start := time.Now()
	end := start.Add(cfg.Duration)
	var sent, errs int64
	pktLen := 0
	next := 0
	for {
		now := time.Now()
		if !now.Before(end) || ctx.Err() != nil {
			break
		}
		burst := int64(maxBurst)
		if cfg.Rate > 0 {
			due := int64(now.Sub(start).Seconds()*float64(cfg.Rate)) - sent
			if due <= 0 {
				// Sleep until the next packet is due (at least 100 µs, so
				// high rates go out in small bursts as an SFU's do): at low
				// rates a fixed short sleep would bill the sender for
				// thousands of idle wake-ups a second.
				next := start.Add(time.Duration(float64(sent+1) / float64(cfg.Rate) * float64(time.Second)))
				time.Sleep(max(next.Sub(now), 100*time.Microsecond))
				continue
			}
			burst = min(due, maxBurst)
		}
		for range burst {
			d := downs[next]
			next = (next + 1) % len(downs)
			// The per-subscriber step of the SFU: rewrite, encrypt, send.
			d.seq++
			d.ts += 3000
			hdr.SSRC, hdr.SequenceNumber, hdr.Timestamp = d.ssrc, d.seq, d.ts
			n, err := hdr.MarshalTo(plain[:cap(plain)])
			if err != nil {
				return nil, fmt.Errorf("ceiling: marshal header: %w", err)
			}
			plain = append(plain[:n], payload...)
			if out, err = d.ctx.EncryptRTP(out[:0], plain, &hdr); err != nil {
				return nil, fmt.Errorf("ceiling: encrypt: %w", err)
			}
			pktLen = len(out)
			if _, err := conn.Write(out); err != nil {
				errs++
				continue
			}
			sent++
		}
	}
	wall := time.Since(start)
	cpu, thr := bench.SelfCPU()-cpu0, bench.ThreadCPU()-thr0
	r := &bench.CeilingResult{
		Packets:          sent,
		PayloadBytes:     len(payload),
		PacketBytes:      pktLen,
		WallS:            wall.Seconds(),
		RateAsked:        cfg.Rate,
		SenderCPUS:       cpu.Seconds(),
		SenderThreadCPUS: thr.Seconds(),
		PacketsPerS:      float64(sent) / wall.Seconds(),
		SendErrors:       errs,
	}
	if sent > 0 && cpu > 0 {
		r.CeilingPacketsPerCoreS = float64(sent) / cpu.Seconds()
		r.NsPerPacket = float64(cpu.Nanoseconds()) / float64(sent)
	}
	return r, nil
}
