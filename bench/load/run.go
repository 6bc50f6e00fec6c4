package load

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/monkeythorn/meet/bench"
	"github.com/monkeythorn/meet/e2ee"
)

// Defaults and limits of Config, in one place.
const (
	DefaultDuration = 30 * time.Second
	DefaultWarmup   = 2 * time.Second
	MaxDuration     = 30 * time.Minute
	MaxClients      = 2000
	// joinParallel bounds concurrent joins, so set-up does not swamp the
	// server's signaling (or this machine) and every join stays bounded.
	joinParallel = 4
	closeTimeout = 10 * time.Second
)

// CeilingFunc measures the bare path at a packet rate for a duration; the
// command runs it in a separate process so its CPU is its own.
type CeilingFunc func(ctx context.Context, rate int64, d time.Duration) (*bench.CeilingResult, error)

// Config describes one load run.
type Config struct {
	URL         string // server base URL, http://127.0.0.1:port
	Rooms       int
	Publishers  int   // per room
	Subscribers int   // per room
	VideoBps    int64 // per publisher; the top layer with Simulcast
	Simulcast   bool
	E2EE        bool
	NACK        bool // subscribers send NACKs, as browsers do
	TransportCC bool // subscribers take transport-wide sequence numbers, as browsers do
	ReceiveGRO  bool // subscribers' sockets take GSO sends whole (UDP_GRO), as a remote receiver would cost the server
	// DirectReceive: subscribers decrypt and count media in their
	// socket's reader, not through Pion's receive chain (lighter).
	DirectReceive bool
	// TwoHosts is recorded in the result: the server runs as another
	// emulated host (meet-bench load --two-hosts), not on this loopback.
	TwoHosts bool
	Duration time.Duration // measurement window; default DefaultDuration
	Warmup   time.Duration // after set-up, before measuring; default DefaultWarmup
	// SetupTimeout bounds joining and connecting; default 20 s + 200 ms per client.
	SetupTimeout time.Duration
	ServerPID    int    // read server CPU and RSS from /proc when > 0
	MetricsURL   string // else read process_cpu_seconds_total from here
	Ceiling      CeilingFunc
	Logger       *slog.Logger
	Progress     io.Writer // one status line a second (\r-rewritten); nil for none
}

func (c *Config) validate() error {
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.Duration == 0 {
		c.Duration = DefaultDuration
	}
	if c.Warmup == 0 {
		c.Warmup = DefaultWarmup
	}
	clients := c.Rooms * (c.Publishers + c.Subscribers)
	if c.SetupTimeout == 0 {
		c.SetupTimeout = 20*time.Second + time.Duration(clients)*200*time.Millisecond
	}
	switch {
	case c.URL == "":
		return fmt.Errorf("%w: no server URL", ErrConfig)
	case c.Rooms < 1 || c.Publishers < 1 || c.Subscribers < 0:
		return fmt.Errorf("%w: need at least one room and one publisher", ErrConfig)
	case clients > MaxClients:
		return fmt.Errorf("%w: %d clients, at most %d", ErrConfig, clients, MaxClients)
	case c.VideoBps < 10_000:
		return fmt.Errorf("%w: video bit rate %d below 10k", ErrConfig, c.VideoBps)
	case c.Duration < 0 || c.Duration > MaxDuration || c.Warmup < 0:
		return fmt.Errorf("%w: duration %v not in (0, %v]", ErrConfig, c.Duration, MaxDuration)
	case c.NACK && c.DirectReceive:
		return fmt.Errorf("%w: NACKs need Pion's receive chain (its NACK generator), which direct receive bypasses", ErrConfig)
	}
	return nil
}

// room is one room's clients.
type room struct {
	code string
	key  *e2ee.RoomKey
	pubs []*publisher
	subs []*subscriber
}

// Run performs one load run: set-up, warm-up, measurement window,
// tear-down, then the ceiling at the packet rate the server forwarded.
func Run(ctx context.Context, cfg Config) (*bench.Result, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	api, err := newAPIClient(cfg.URL)
	if err != nil {
		return nil, err
	}
	res := &bench.Result{Scenario: bench.Scenario{Rooms: cfg.Rooms, Publishers: cfg.Publishers, Subscribers: cfg.Subscribers,
		VideoBps: cfg.VideoBps, Simulcast: cfg.Simulcast, E2EE: cfg.E2EE, NACK: cfg.NACK, TransportCC: cfg.TransportCC, ReceiveGRO: cfg.ReceiveGRO, DirectReceive: cfg.DirectReceive, TwoHosts: cfg.TwoHosts, DurationS: cfg.Duration.Seconds()}}
	epoch := time.Now()
	var measuring atomic.Bool
	sendCtx, stopSending := context.WithCancel(ctx)
	defer stopSending()

	setupStart := time.Now()
	setupCtx, cancelSetup := context.WithTimeout(ctx, cfg.SetupTimeout)
	rooms, err := setUp(setupCtx, sendCtx, api, cfg, epoch, &measuring)
	var sendWG sync.WaitGroup
	defer func() {
		stopSending()
		sendWG.Wait()
		tearDown(rooms)
	}()
	if err != nil {
		cancelSetup()
		return nil, err
	}
	for _, r := range rooms {
		for _, p := range r.pubs {
			sendWG.Add(1)
			go func() { defer sendWG.Done(); p.send(sendCtx) }()
		}
	}
	want := cfg.Rooms * cfg.Subscribers * cfg.Publishers
	up := waitTracks(setupCtx, rooms, want)
	cancelSetup()
	res.SetupS = time.Since(setupStart).Seconds()
	res.SubscriberTracks, res.SubscriberTracksWant = up, want
	if up == 0 && want > 0 {
		return nil, ErrNoMedia
	}
	if up < want {
		res.Notes = append(res.Notes, fmt.Sprintf("only %d of %d subscriber tracks received media within the set-up time-out", up, want))
	}
	if err := sleepCtx(ctx, cfg.Warmup); err != nil {
		return nil, err
	}

	probe := newProbe(cfg)
	before := probe.take(rooms)
	measuring.Store(true)
	starve := bench.StartStarvationProbe()
	err = progress(ctx, cfg, rooms, probe, before)
	res.BenchTimerLateP50Ms, res.BenchTimerLateP99Ms = starve.Stop()
	if err != nil {
		return nil, err
	}
	after := probe.take(rooms)
	measuring.Store(false)
	if res.BenchTimerLateP99Ms.Known() && res.BenchTimerLateP99Ms > bench.StarvedLateMs {
		res.BenchStarved = true
		res.Notes = append(res.Notes, fmt.Sprintf("the generator was starved of CPU: its 10 ms timer fired up to %.0f ms late (p99); loss and latency include its own delay", float64(res.BenchTimerLateP99Ms)))
	}
	res.ServerRSSBytes = bench.Unknown
	if cfg.ServerPID > 0 {
		if rss, err := bench.ProcRSS(cfg.ServerPID); err == nil {
			res.ServerRSSBytes = bench.Num(rss)
		}
	}
	for _, r := range rooms {
		for _, p := range r.pubs {
			if err := p.err(); err != nil {
				res.Notes = append(res.Notes, "publisher: "+err.Error())
				break
			}
		}
	}
	// Stop the load before the ceiling runs, so the two do not share CPU;
	// the latency samples are read once the readers have ended.
	stopSending()
	sendWG.Wait()
	tearDown(rooms)
	fillResult(res, before, after, rooms, probe.source)
	rooms = nil
	res.CeilingPacketsPerCoreS, res.CeilingRatio = bench.Unknown, bench.Unknown
	if cfg.Ceiling != nil && res.ForwardedPacketsPerS.Known() && res.ForwardedPacketsPerS > 0 {
		d := min(cfg.Duration, 10*time.Second)
		c, err := cfg.Ceiling(ctx, int64(math.Round(float64(res.ForwardedPacketsPerS))), d)
		if err != nil {
			res.Notes = append(res.Notes, "ceiling: "+err.Error())
		} else {
			res.CeilingPacketsPerCoreS = bench.Num(c.CeilingPacketsPerCoreS)
			if res.PacketsPerServerCPUS.Known() && c.CeilingPacketsPerCoreS > 0 {
				res.CeilingRatio = res.PacketsPerServerCPUS / bench.Num(c.CeilingPacketsPerCoreS)
			}
		}
	}
	return res, nil
}

// setUp creates the rooms and joins every client: subscribers first, so
// they are in the room when tracks are published, then publishers.
func setUp(ctx, sendCtx context.Context, api *apiClient, cfg Config, epoch time.Time, measuring *atomic.Bool) ([]*room, error) {
	rooms := make([]*room, cfg.Rooms)
	for i := range rooms {
		code, err := api.createRoom(ctx)
		if err != nil {
			return nil, err
		}
		r := &room{code: code}
		if cfg.E2EE {
			link := make([]byte, 16)
			rand.Read(link)
			if r.key, err = e2ee.DeriveRoomKey(base64.RawURLEncoding.EncodeToString(link), code); err != nil {
				return nil, err
			}
		}
		rooms[i] = r
	}
	var mu sync.Mutex
	var firstErr error
	sem := make(chan struct{}, joinParallel)
	var wg sync.WaitGroup
	join := func(r *room, i int, publisherRole bool) {
		defer wg.Done()
		sem <- struct{}{}
		defer func() { <-sem }()
		token, ws, err := api.token(ctx, r.code, cfg.E2EE)
		if err == nil {
			if publisherRole {
				var p *publisher
				p, err = startPublisher(ctx, publisherConfig{wsURL: ws, token: token, room: r.code, videoBps: cfg.VideoBps,
					simulcast: cfg.Simulcast, roomKey: r.key, epoch: epoch, seed: uint64(i + 1), localIP: api.localIP})
				if err == nil {
					mu.Lock()
					r.pubs = append(r.pubs, p)
					mu.Unlock()
				}
			} else {
				var s *subscriber
				s, err = startSubscriber(ctx, ws, token, r.code, r.key, epoch, measuring, clientOptions{LocalIP: api.localIP, NACK: cfg.NACK, TransportCC: cfg.TransportCC, ReceiveGRO: cfg.ReceiveGRO, DirectReceive: cfg.DirectReceive})
				if err == nil {
					mu.Lock()
					r.subs = append(r.subs, s)
					mu.Unlock()
				}
			}
		}
		if err != nil {
			mu.Lock()
			if firstErr == nil {
				firstErr = err
			}
			mu.Unlock()
		}
	}
	for _, r := range rooms {
		for i := range cfg.Subscribers {
			wg.Add(1)
			go join(r, i, false)
		}
	}
	wg.Wait()
	for ri, r := range rooms {
		for i := range cfg.Publishers {
			wg.Add(1)
			go join(r, ri*cfg.Publishers+i, true)
		}
	}
	wg.Wait()
	if firstErr != nil {
		return rooms, firstErr
	}
	return rooms, nil
}

// waitTracks waits until want subscriber tracks have received packets or
// ctx ends, and returns how many have.
func waitTracks(ctx context.Context, rooms []*room, want int) int {
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		up := 0
		for _, r := range rooms {
			for _, s := range r.subs {
				for _, t := range s.snapshot() {
					if t.received.Load() > 0 {
						up++
					}
				}
			}
		}
		if up >= want {
			return up
		}
		select {
		case <-ctx.Done():
			return up
		case <-tick.C:
		}
	}
}

func tearDown(rooms []*room) {
	var wg sync.WaitGroup
	sem := make(chan struct{}, 16)
	for _, r := range rooms {
		if r == nil {
			continue
		}
		for _, p := range r.pubs {
			wg.Add(1)
			go func() { defer wg.Done(); sem <- struct{}{}; p.close(); <-sem }()
		}
		for _, s := range r.subs {
			wg.Add(1)
			go func() { defer wg.Done(); sem <- struct{}{}; s.close(); <-sem }()
		}
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(closeTimeout):
	}
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// sample is the state of everything measured at one instant.
type sample struct {
	at                            time.Time
	received, expected, reordered int64
	bytes                         int64
	serverCPU                     time.Duration
	serverOK                      bool
	serverSwitches                int64 // context switches of all its threads; -1 unknown
	benchCPU                      time.Duration
	machineBusy, machineTotal     time.Duration      // all CPUs (/proc/stat)
	rcvbufErrors                  int64              // machine-wide; -1 unknown
	drops                         map[string]float64 // server, by reason; nil if unknown
	forwardDelay                  map[string]float64 // server, cumulative buckets by "le"; nil if unknown
}

// probe takes samples of the clients, the server's CPU and our own.
type probe struct {
	pid     int
	metrics string
	source  string
	http    *http.Client
}

func newProbe(cfg Config) *probe {
	p := &probe{pid: cfg.ServerPID, metrics: cfg.MetricsURL, source: "none", http: &http.Client{Timeout: 2 * time.Second}}
	switch {
	case p.pid > 0:
		p.source = "proc"
	case p.metrics != "":
		p.source = "metrics"
	}
	return p
}

func (p *probe) take(rooms []*room) sample {
	s := sample{at: time.Now(), benchCPU: bench.SelfCPU(), serverSwitches: -1}
	s.machineBusy, s.machineTotal, _ = bench.MachineCPU()
	var err error
	if s.rcvbufErrors, err = bench.UDPRcvbufErrors(); err != nil {
		s.rcvbufErrors = -1
	}
	for _, r := range rooms {
		for _, sub := range r.subs {
			for _, t := range sub.snapshot() {
				s.received += t.received.Load()
				s.expected += t.expected.Load()
				s.reordered += t.reordered.Load()
				s.bytes += t.bytes.Load()
			}
		}
	}
	switch p.source {
	case "proc":
		s.serverCPU, err = bench.ProcCPU(p.pid)
		s.serverOK = err == nil
		if n, err := bench.ProcCtxSwitches(p.pid); err == nil {
			s.serverSwitches = n
		}
	case "metrics":
		s.serverCPU, err = p.scrape()
		s.serverOK = err == nil
	}
	if p.metrics != "" {
		s.drops, s.forwardDelay = p.scrapeMetrics()
	}
	return s
}

// scrapeMetrics reads the server's drops by reason (those per
// subscriber, and those of the receive queues as receive_<reason>) and
// the buckets of its forwarding delay histogram, or nils.
func (p *probe) scrapeMetrics() (drops, forwardDelay map[string]float64) {
	resp, err := p.http.Get(p.metrics)
	if err != nil {
		return nil, nil
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 4<<20))
	if err != nil {
		return nil, nil
	}
	drops = bench.ParsePromLabelled(b, "meet_dropped_packets_total", "reason")
	for reason, v := range bench.ParsePromLabelled(b, "meet_receive_dropped_packets_total", "reason") {
		drops["receive_"+reason] = v
	}
	if forwardDelay = bench.ParsePromLabelled(b, "meet_forward_delay_seconds_bucket", "le"); len(forwardDelay) == 0 {
		forwardDelay = nil // a server from before the histogram
	}
	return drops, forwardDelay
}

func (p *probe) scrape() (time.Duration, error) {
	resp, err := p.http.Get(p.metrics)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 4<<20))
	if err != nil {
		return 0, err
	}
	return bench.ParsePromCPU(b)
}

// progress runs the measurement window, printing one line a second.
func progress(ctx context.Context, cfg Config, rooms []*room, p *probe, start sample) error {
	end := start.at.Add(cfg.Duration)
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	last := start
	for {
		now := time.Now()
		if !now.Before(end) {
			break
		}
		wait := min(end.Sub(now), time.Second)
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(wait):
		}
		if cfg.Progress == nil {
			continue
		}
		cur := p.take(rooms)
		dt := cur.at.Sub(last.at).Seconds()
		if dt < 0.5 {
			continue // the window's last sliver: a rate over it is noise
		}
		line := fmt.Sprintf("\r%4.0fs/%.0fs  fwd %7.0f pkt/s  %6.1f Mbit/s  loss %.4f",
			cur.at.Sub(start.at).Seconds(), cfg.Duration.Seconds(),
			float64(cur.received-last.received)/dt, float64(cur.bytes-last.bytes)*8/dt/1e6,
			lossRatio(cur.expected-start.expected, cur.received-start.received))
		if cur.serverOK && last.serverOK {
			line += fmt.Sprintf("  server %.2f cores", (cur.serverCPU-last.serverCPU).Seconds()/dt)
		}
		line += fmt.Sprintf("  bench %.2f cores   ", (cur.benchCPU-last.benchCPU).Seconds()/dt)
		fmt.Fprint(cfg.Progress, line)
		last = cur
	}
	if cfg.Progress != nil {
		fmt.Fprintln(cfg.Progress)
	}
	return nil
}

func lossRatio(expected, received int64) float64 {
	if expected <= 0 {
		return 0
	}
	return math.Max(0, float64(expected-received)/float64(expected))
}

// fillResult turns the two samples around the window into the report.
func fillResult(res *bench.Result, a, b sample, rooms []*room, source string) {
	wall := b.at.Sub(a.at).Seconds()
	recv := b.received - a.received
	exp := b.expected - a.expected
	res.PacketsReceived = recv
	res.PacketsLost = max(exp-recv, 0)
	res.PacketsReordered = b.reordered - a.reordered
	res.LossRatio = bench.Num(lossRatio(exp, recv))
	res.ForwardedPacketsPerS = bench.Num(float64(recv) / wall)
	res.ForwardedBitsPerS = bench.Num(float64(b.bytes-a.bytes) * 8 / wall)
	res.BenchCPUCores = bench.Num((b.benchCPU - a.benchCPU).Seconds() / wall)
	if a.drops != nil && b.drops != nil {
		res.ServerDropsPerS = map[string]float64{}
		for reason, v := range b.drops {
			res.ServerDropsPerS[reason] = (v - a.drops[reason]) / wall
		}
	}
	res.ServerForwardDelayP50Ms, res.ServerForwardDelayP99Ms = bench.Unknown, bench.Unknown
	if a.forwardDelay != nil && b.forwardDelay != nil {
		window := map[string]float64{}
		for le, v := range b.forwardDelay {
			window[le] = v - a.forwardDelay[le]
		}
		res.ServerForwardDelayP50Ms = bench.BucketQuantile(window, 0.50) * 1000
		res.ServerForwardDelayP99Ms = bench.BucketQuantile(window, 0.99) * 1000
	}
	res.ServerCPUSource = source
	res.ServerCPUCores, res.PacketsPerServerCPUS = bench.Unknown, bench.Unknown
	res.MachineCPUBusy, res.ServerSwitchesPerS = bench.Unknown, bench.Unknown
	if dt := b.machineTotal - a.machineTotal; dt > 0 {
		res.MachineCPUBusy = bench.Num(float64(b.machineBusy-a.machineBusy) / float64(dt))
	}
	res.UDPRcvbufDrops = bench.Unknown
	if a.rcvbufErrors >= 0 && b.rcvbufErrors >= 0 {
		res.UDPRcvbufDrops = bench.Num(b.rcvbufErrors - a.rcvbufErrors)
	}
	if a.serverSwitches >= 0 && b.serverSwitches >= 0 {
		res.ServerSwitchesPerS = bench.Num(float64(b.serverSwitches-a.serverSwitches) / wall)
	}
	if a.serverOK && b.serverOK {
		cpu := (b.serverCPU - a.serverCPU).Seconds()
		res.ServerCPUCores = bench.Num(cpu / wall)
		if cpu > 0 {
			res.PacketsPerServerCPUS = bench.Num(float64(recv) / cpu)
		}
	}
	var all []*bench.Samples
	bad, badSRTP := int64(0), int64(0)
	for _, r := range rooms {
		for _, s := range r.subs {
			if s.direct != nil {
				badSRTP += s.direct.bad.Load()
			}
			for _, t := range s.snapshot() {
				all = append(all, t.lat)
				bad += t.badE2EE.Load()
			}
		}
	}
	lat := bench.Merge(all...)
	res.LatencyFrames = int64(len(lat))
	res.LatencyP50Ms = bench.Num(bench.Percentile(lat, 50))
	res.LatencyP99Ms = bench.Num(bench.Percentile(lat, 99))
	res.LatencyMaxMs = bench.Num(bench.Percentile(lat, 100))
	if bad > 0 {
		res.Notes = append(res.Notes, fmt.Sprintf("%d frames failed E2EE decryption or had no stamp", bad))
	}
	if badSRTP > 0 {
		res.Notes = append(res.Notes, fmt.Sprintf("%d packets failed SRTP decryption in the subscribers' direct receivers", badSRTP))
	}
}
