package load

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"time"

	"github.com/monkeythorn/meet/bench"
)

// Defaults of ChurnConfig.
const (
	DefaultChurnSample  = 10 * time.Second
	DefaultJoinTimeout  = 10 * time.Second
	DefaultChurnSettle  = 15 * time.Second
	DefaultChurnVideo   = 300_000
	maxChurnErrorsKept  = 5
	maxChurnJoinsPerMin = 6000
)

// ChurnConfig describes a churn soak: participants join one room and leave
// it at a steady rate while the server's goroutines, open files, RSS and
// heap (after a forced GC) are sampled, so a leak shows as a trend and as a
// difference between the empty server before and after.
type ChurnConfig struct {
	URL         string  // server base URL
	JoinsPerMin float64 // one participant leaves and one joins this often
	InRoom      int     // participants in the room between joins
	Duration    time.Duration
	VideoBps    int64         // each participant publishes video at this rate; default DefaultChurnVideo
	SampleEvery time.Duration // default DefaultChurnSample
	JoinTimeout time.Duration // a join not connected by then failed; default DefaultJoinTimeout
	// Settle bounds the wait, after the last participant left, for the
	// server to come back to its baseline; default DefaultChurnSettle.
	Settle   time.Duration
	Probe    bench.ServerProbe
	Logger   *slog.Logger
	Progress io.Writer // one line per sample; nil for none
}

func (c *ChurnConfig) validate() error {
	switch {
	case c.JoinsPerMin <= 0 || c.JoinsPerMin > maxChurnJoinsPerMin:
		return fmt.Errorf("%w: rate %.1f joins/min out of (0, %d]", ErrConfig, c.JoinsPerMin, maxChurnJoinsPerMin)
	case c.InRoom < 1 || c.InRoom > MaxClients:
		return fmt.Errorf("%w: in-room %d out of [1, %d]", ErrConfig, c.InRoom, MaxClients)
	case c.Duration <= 0 || c.Duration > MaxDuration:
		return fmt.Errorf("%w: duration %v out of (0, %v]", ErrConfig, c.Duration, MaxDuration)
	}
	if c.VideoBps == 0 {
		c.VideoBps = DefaultChurnVideo
	}
	if c.SampleEvery == 0 {
		c.SampleEvery = DefaultChurnSample
	}
	if c.JoinTimeout == 0 {
		c.JoinTimeout = DefaultJoinTimeout
	}
	if c.Settle == 0 {
		c.Settle = DefaultChurnSettle
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return nil
}

// ChurnPoint is one sample of a churn soak: the server's figures and the
// joins since the previous sample.
type ChurnPoint struct {
	AtS           float64   `json:"at_s"`
	InRoom        int       `json:"in_room"`
	Joins         int       `json:"joins"`
	Failures      int       `json:"failures"`
	JoinP50Ms     bench.Num `json:"join_p50_ms"`
	JoinP99Ms     bench.Num `json:"join_p99_ms"`
	BenchCPUCores bench.Num `json:"bench_cpu_cores"`
	bench.ServerSample
}

// ChurnResult is a whole churn soak.
type ChurnResult struct {
	JoinsPerMin float64            `json:"joins_per_min"`
	InRoom      int                `json:"in_room"`
	DurationS   float64            `json:"duration_s"`
	Baseline    bench.ServerSample `json:"baseline"` // before the first join
	Final       bench.ServerSample `json:"final"`    // after the last leave
	Points      []ChurnPoint       `json:"points"`
	Joins       int                `json:"joins"`
	Failures    int                `json:"failures"`
	JoinP50Ms   bench.Num          `json:"join_p50_ms"`
	JoinP99Ms   bench.Num          `json:"join_p99_ms"`
	Errors      []string           `json:"errors,omitempty"` // the first few failures
}

// member is one participant of the soak.
type member struct {
	pub    *publisher
	cancel context.CancelFunc
}

// churn is the state of a running soak.
type churn struct {
	cfg  ChurnConfig
	api  *apiClient
	room string

	mu       sync.Mutex
	members  []*member // oldest first
	pending  int
	joins    int
	failures int
	lat      []float64 // ms, all joins
	window   []float64 // ms, since the last sample
	wFail    int
	wJoins   int
	errs     []string
	wg       sync.WaitGroup // joins and leaves in flight
	seed     uint64
	epoch    time.Time
	sendCtx  context.Context
	stopSend context.CancelFunc
}

// Churn runs a churn soak.
func Churn(ctx context.Context, cfg ChurnConfig) (*ChurnResult, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	api, err := newAPIClient(cfg.URL)
	if err != nil {
		return nil, err
	}
	room, err := api.createRoom(ctx)
	if err != nil {
		return nil, err
	}
	c := &churn{cfg: cfg, api: api, room: room, epoch: time.Now()}
	c.sendCtx, c.stopSend = context.WithCancel(context.Background())
	defer c.stopSend()
	cfg.Probe.Sample(ctx) // warms the server's handlers; see Sample
	res := &ChurnResult{JoinsPerMin: cfg.JoinsPerMin, InRoom: cfg.InRoom, Baseline: cfg.Probe.Sample(ctx)}

	interval := time.Duration(float64(time.Minute) / cfg.JoinsPerMin)
	start := time.Now()
	joinTick := time.NewTicker(interval)
	defer joinTick.Stop()
	sampleTick := time.NewTicker(cfg.SampleEvery)
	defer sampleTick.Stop()
	lastCPU, lastAt := bench.SelfCPU(), time.Now()
	c.step() // the first participant at once
	for done := false; !done; {
		select {
		case <-ctx.Done():
			done = true
		case now := <-joinTick.C:
			if now.Sub(start) >= cfg.Duration {
				done = true
				break
			}
			c.step()
		case now := <-sampleTick.C:
			cpu := bench.SelfCPU()
			p := c.point(ctx, now.Sub(start))
			p.BenchCPUCores = bench.Num((cpu - lastCPU).Seconds() / now.Sub(lastAt).Seconds())
			lastCPU, lastAt = cpu, now
			res.Points = append(res.Points, p)
			if cfg.Progress != nil {
				fmt.Fprintf(cfg.Progress, "churn %5.0fs  in room %3d  joins %4d  failed %3d  join p99 %6.0f ms  goroutines %5.0f  fds %4.0f  heap %6.1f MB\n",
					p.AtS, p.InRoom, c.joinCount(), c.failCount(), float64(p.JoinP99Ms), float64(p.Goroutines), float64(p.OpenFDs), float64(p.HeapInuseBytes)/1e6)
			}
		}
	}
	res.DurationS = time.Since(start).Seconds()
	c.leaveAll()
	res.Final = c.settle(ctx, res.Baseline)
	c.mu.Lock()
	defer c.mu.Unlock()
	res.Joins, res.Failures, res.Errors = c.joins, c.failures, c.errs
	res.JoinP50Ms, res.JoinP99Ms = bench.Num(bench.Percentile(c.lat, 50)), bench.Num(bench.Percentile(c.lat, 99))
	return res, ctx.Err()
}

// step lets the oldest participant leave when the room is full, and
// starts one join.
func (c *churn) step() {
	c.mu.Lock()
	var old *member
	if len(c.members)+c.pending >= c.cfg.InRoom && len(c.members) > 0 {
		old = c.members[0]
		c.members = c.members[1:]
	}
	c.pending++
	c.seed++
	seed := c.seed
	c.mu.Unlock()
	if old != nil {
		c.wg.Add(1)
		go func() { defer c.wg.Done(); old.leave() }()
	}
	c.wg.Add(1)
	go func() { defer c.wg.Done(); c.join(seed) }()
}

// join adds one participant and times it from the token request to its
// media connection being up.
func (c *churn) join(seed uint64) {
	ctx, cancel := context.WithTimeout(c.sendCtx, c.cfg.JoinTimeout)
	defer cancel()
	t0 := time.Now()
	m, err := c.connect(ctx, seed)
	ms := float64(time.Since(t0).Microseconds()) / 1e3
	c.mu.Lock()
	defer c.mu.Unlock()
	c.pending--
	c.joins++
	c.wJoins++
	if err != nil {
		c.failures++
		c.wFail++
		if len(c.errs) < maxChurnErrorsKept {
			c.errs = append(c.errs, err.Error())
		}
		c.cfg.Logger.Warn("churn: join failed", "err", err)
		return
	}
	c.lat = append(c.lat, ms)
	c.window = append(c.window, ms)
	c.members = append(c.members, m)
}

func (c *churn) connect(ctx context.Context, seed uint64) (*member, error) {
	token, ws, err := c.api.token(ctx, c.room, false)
	if err != nil {
		return nil, err
	}
	pub, err := startPublisher(ctx, publisherConfig{wsURL: ws, token: token, room: c.room, videoBps: c.cfg.VideoBps, epoch: c.epoch, seed: seed, localIP: c.api.localIP})
	if err != nil {
		return nil, err
	}
	select {
	case <-pub.connected:
	case <-ctx.Done():
		err := pub.err()
		pub.close()
		return nil, fmt.Errorf("%w: not connected within %v (%v)", ErrNoMedia, c.cfg.JoinTimeout, err)
	}
	sendCtx, stop := context.WithCancel(c.sendCtx)
	m := &member{pub: pub, cancel: stop}
	go pub.send(sendCtx)
	return m, nil
}

func (m *member) leave() {
	m.cancel()
	m.pub.close()
}

// point samples the server and the joins since the last point.
func (c *churn) point(ctx context.Context, at time.Duration) ChurnPoint {
	s := c.cfg.Probe.Sample(ctx)
	c.mu.Lock()
	defer c.mu.Unlock()
	p := ChurnPoint{AtS: at.Seconds(), InRoom: len(c.members) + c.pending, Joins: c.wJoins, Failures: c.wFail, ServerSample: s,
		JoinP50Ms: bench.Num(bench.Percentile(c.window, 50)), JoinP99Ms: bench.Num(bench.Percentile(c.window, 99))}
	c.window, c.wJoins, c.wFail = c.window[:0], 0, 0
	return p
}

func (c *churn) joinCount() int { c.mu.Lock(); defer c.mu.Unlock(); return c.joins }
func (c *churn) failCount() int { c.mu.Lock(); defer c.mu.Unlock(); return c.failures }

// leaveAll waits for the joins in flight, then has everyone leave.
func (c *churn) leaveAll() {
	c.wg.Wait()
	c.mu.Lock()
	ms := c.members
	c.members = nil
	c.mu.Unlock()
	var wg sync.WaitGroup
	for _, m := range ms {
		wg.Add(1)
		go func() { defer wg.Done(); m.leave() }()
	}
	wg.Wait()
	c.stopSend()
}

// settle samples the emptied server until it is back at the baseline's
// goroutines and open files, or Settle has passed, and returns the last
// sample.
func (c *churn) settle(ctx context.Context, base bench.ServerSample) bench.ServerSample {
	deadline := time.Now().Add(c.cfg.Settle)
	for {
		s := c.cfg.Probe.Sample(ctx)
		back := s.Goroutines.Known() && s.Goroutines <= base.Goroutines && (!s.OpenFDs.Known() || s.OpenFDs <= base.OpenFDs)
		if back || time.Now().After(deadline) || ctx.Err() != nil {
			return s
		}
		select {
		case <-ctx.Done():
		case <-time.After(time.Second):
		}
	}
}

// ChurnMargins is how far above the baseline the emptied server may end.
type ChurnMargins struct {
	Goroutines, OpenFDs int
	HeapBytes           float64
}

// Leaked compares the final sample with the baseline and returns an error
// wrapping ErrChurnLeak for each figure beyond its margin, or one for a
// figure that could not be read.
func (r *ChurnResult) Leaked(m ChurnMargins) error {
	var errs []error
	check := func(name string, base, final bench.Num, margin float64) {
		switch {
		case !base.Known() || !final.Known():
			errs = append(errs, fmt.Errorf("%w: %s not measured (baseline %v, final %v)", ErrChurnLeak, name, base, final))
		case float64(final) > float64(base)+margin:
			errs = append(errs, fmt.Errorf("%w: %s %.0f at the start, %.0f after (margin %.0f)", ErrChurnLeak, name, float64(base), float64(final), margin))
		}
	}
	check("goroutines", r.Baseline.Goroutines, r.Final.Goroutines, float64(m.Goroutines))
	check("open files", r.Baseline.OpenFDs, r.Final.OpenFDs, float64(m.OpenFDs))
	check("heap in use after GC (bytes)", r.Baseline.HeapInuseBytes, r.Final.HeapInuseBytes, m.HeapBytes)
	return errors.Join(errs...)
}
