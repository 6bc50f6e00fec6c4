package sendside

import (
	"sync"
	"time"

	"github.com/pion/rtcp"
)

// The delay-based detector's constants, from Google Congestion Control
// (draft-ietf-rmcat-gcc-02, and WebRTC's trend line estimator).
const (
	burstSpan      = 5 * time.Millisecond // packets sent within it form a group
	trendWindow    = 20                   // groups in the trend line
	trendSmoothing = 0.9                  // of the accumulated delay
	trendGain      = 4.0                  // slope × groups × gain vs threshold
	trendMaxGroups = 60
	thresholdStart = 12.5 // ms
	thresholdMin   = 6.0
	thresholdMax   = 600.0
	kUp            = 0.0087 // threshold growth per ms while the trend is above it
	kDown          = 0.039  // its fall while below
	overuseFor     = 10 * time.Millisecond
)

// The rate controller's constants.
const (
	// StartRate is the estimate before the path has shown anything.
	StartRate = 300_000
	minRate   = 30_000
	maxRate   = 100_000_000
	// decreaseFactor times what arrived is the estimate after an overuse.
	decreaseFactor = 0.85
	// increasePerSecond is the multiplicative growth on a calm path.
	increasePerSecond = 0.08
	// ackedCap: the estimate stays within ackedCap times what arrived
	// (plus ackedSlack): a path is not trusted far beyond what it showed.
	ackedCap   = 1.5
	ackedSlack = 10_000
	// decreaseEvery bounds how often delay or loss lowers the estimate:
	// the queue needs about a round trip to drain.
	decreaseEvery = 200 * time.Millisecond
	// Loss over highLoss lowers the estimate by half the loss; under
	// lowLoss it does not limit the estimate.
	highLoss = 0.10
	// ackedWindow is how far back what arrived is measured.
	ackedWindow = 500 * time.Millisecond
	// lossWeight is the weight of a report's loss in the smoothed loss.
	lossWeight = 0.3
)

// Usage is the delay detector's reading of the path.
type Usage int

// The path is calm, its queue grows, or it drains.
const (
	Normal Usage = iota
	Overusing
	Underusing
)

func (u Usage) String() string {
	switch u {
	case Overusing:
		return "overusing"
	case Underusing:
		return "underusing"
	}
	return "normal"
}

// group is packets sent within burstSpan of the first: the unit whose
// arrival spacing is compared with its send spacing.
type group struct {
	firstSend, lastSend, lastArrival int64 // microseconds
	valid                            bool
}

// acked is what one report says arrived: bytes by the latest arrival.
type acked struct {
	at    int64 // unix nanoseconds of the report
	bytes int
}

// Estimator turns transport-wide feedback into a bandwidth estimate.
// Its methods are safe for concurrent use.
type Estimator struct {
	h *History

	mu   sync.Mutex
	rate float64 // bits per second; 0 before the first report
	// delay
	cur, prev  group
	accDelay   float64 // ms
	smoothed   float64 // ms
	firstArr   int64   // microseconds: the trend line's time origin
	points     [trendWindow][2]float64
	npoints    int
	groups     int
	threshold  float64
	lastThresh int64 // unix nanoseconds
	overStart  int64 // unix nanoseconds the trend went over the threshold; 0 = under
	overCount  int
	prevSlope  float64
	usage      Usage
	// rate
	lastUpdate   int64 // unix nanoseconds
	lastDecrease int64
	window       [16]acked
	nwindow      int
	loss         float64 // smoothed fraction lost
	// arrival time base: the report's reference time and deltas, in
	// microseconds, on the subscriber's clock
	lastSeq  uint16
	seqValid bool
}

// NewEstimator returns an estimator of the packets h records.
func NewEstimator(h *History) *Estimator {
	return &Estimator{h: h, threshold: thresholdStart}
}

// Rate returns the estimate in bits per second, 0 while nothing was
// reported.
func (e *Estimator) Rate() uint64 {
	e.mu.Lock()
	defer e.mu.Unlock()
	return uint64(e.rate)
}

// Usage returns the delay detector's last reading.
func (e *Estimator) Usage() Usage {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.usage
}

// maxStatuses bounds the packets one report may describe: a report is the
// subscriber's to write, and a count of 65535 must not cost 65535 steps
// unless it carries that many statuses.
const maxStatuses = historySize

// OnFeedback reads one transport-wide feedback report received at now and
// returns the estimate after it, in bits per second. Every field of fb is
// the subscriber's to choose: what does not add up is ignored.
func (e *Estimator) OnFeedback(fb *rtcp.TransportLayerCC, now time.Time) uint64 {
	e.mu.Lock()
	defer e.mu.Unlock()
	nowNs := now.UnixNano()
	arrival := int64(fb.ReferenceTime) * 64_000 // microseconds
	seq := fb.BaseSequenceNumber
	deltas := fb.RecvDeltas
	left := min(int(fb.PacketStatusCount), maxStatuses)
	var received, lost, bytes int
	visit := func(symbol uint16) bool {
		if left == 0 {
			return false
		}
		left--
		s := seq
		seq++
		switch symbol {
		case rtcp.TypeTCCPacketNotReceived:
			if _, _, ok := e.h.lookup(s); ok {
				lost++
			}
			return true
		case rtcp.TypeTCCPacketReceivedSmallDelta, rtcp.TypeTCCPacketReceivedLargeDelta:
		default:
			return true
		}
		if len(deltas) == 0 || deltas[0] == nil {
			left = 0
			return false
		}
		arrival += deltas[0].Delta
		deltas = deltas[1:]
		sent, size, ok := e.h.lookup(s)
		if !ok {
			return true
		}
		received++
		bytes += size
		e.packet(sent, arrival, nowNs)
		return true
	}
	for _, c := range fb.PacketChunks {
		switch c := c.(type) {
		case *rtcp.RunLengthChunk:
			for range min(int(c.RunLength), left) {
				if !visit(c.PacketStatusSymbol) {
					break
				}
			}
		case *rtcp.StatusVectorChunk:
			for _, s := range c.SymbolList {
				if !visit(s) {
					break
				}
			}
		}
		if left == 0 {
			break
		}
	}
	if received+lost == 0 {
		return uint64(e.rate)
	}
	e.addAcked(nowNs, bytes)
	if n := received + lost; n >= 10 {
		e.loss += lossWeight * (float64(lost)/float64(n) - e.loss)
	}
	e.update(nowNs)
	return uint64(e.rate)
}

// packet adds one received packet (send and arrival in microseconds) to
// the groups, and each closed group to the trend line.
func (e *Estimator) packet(sent, arrival, now int64) {
	if !e.cur.valid {
		e.cur = group{firstSend: sent, lastSend: sent, lastArrival: arrival, valid: true}
		return
	}
	if sent < e.cur.firstSend {
		return // reordered behind the group: its spacing says nothing
	}
	if sent-e.cur.firstSend <= burstSpan.Microseconds() {
		e.cur.lastSend = max(e.cur.lastSend, sent)
		e.cur.lastArrival = max(e.cur.lastArrival, arrival)
		return
	}
	if e.prev.valid {
		sendDelta := e.cur.lastSend - e.prev.lastSend
		arrDelta := e.cur.lastArrival - e.prev.lastArrival
		if arrDelta >= 0 && sendDelta >= 0 {
			e.trend(float64(arrDelta-sendDelta)/1000, e.cur.lastArrival, now)
		}
	}
	e.prev = e.cur
	e.cur = group{firstSend: sent, lastSend: sent, lastArrival: arrival, valid: true}
}

// trend adds one group's delay variation (ms) at its arrival to the trend
// line, and reads the path's usage from the line's slope.
func (e *Estimator) trend(delta float64, arrival, now int64) {
	if e.npoints == 0 && e.groups == 0 {
		e.firstArr = arrival
	}
	e.groups = min(e.groups+1, trendMaxGroups)
	e.accDelay += delta
	e.smoothed = trendSmoothing*e.smoothed + (1-trendSmoothing)*e.accDelay
	pt := [2]float64{float64(arrival-e.firstArr) / 1000, e.smoothed}
	if e.npoints < trendWindow {
		e.points[e.npoints] = pt
		e.npoints++
	} else {
		copy(e.points[:], e.points[1:])
		e.points[trendWindow-1] = pt
	}
	if e.npoints < trendWindow {
		return
	}
	slope := slopeOf(e.points[:])
	e.detect(slope*float64(e.groups)*trendGain, slope, now)
	e.prevSlope = slope
}

// slopeOf fits a line to points (x, y) by least squares and returns its
// slope, 0 when the x do not vary.
func slopeOf(points [][2]float64) float64 {
	var sx, sy float64
	for _, p := range points {
		sx += p[0]
		sy += p[1]
	}
	n := float64(len(points))
	mx, my := sx/n, sy/n
	var num, den float64
	for _, p := range points {
		num += (p[0] - mx) * (p[1] - my)
		den += (p[0] - mx) * (p[0] - mx)
	}
	if den == 0 {
		return 0
	}
	return num / den
}

// detect compares the modified trend with the adaptive threshold.
func (e *Estimator) detect(trend, slope float64, now int64) {
	switch {
	case trend > e.threshold:
		if e.overStart == 0 {
			e.overStart = now
		}
		e.overCount++
		if now-e.overStart >= int64(overuseFor) && e.overCount > 1 && slope >= e.prevSlope {
			e.usage = Overusing
			e.overStart, e.overCount = 0, 0
		}
	case trend < -e.threshold:
		e.overStart, e.overCount = 0, 0
		e.usage = Underusing
	default:
		e.overStart, e.overCount = 0, 0
		e.usage = Normal
	}
	e.adapt(trend, now)
}

// adapt moves the threshold towards the trend: slowly up, faster down, so
// that a path with jitter does not read as overused while a growing queue
// still does. A trend far over it (a step) does not move it.
func (e *Estimator) adapt(trend float64, now int64) {
	if e.lastThresh == 0 {
		e.lastThresh = now
	}
	abs := trend
	if abs < 0 {
		abs = -abs
	}
	if abs > e.threshold+15 {
		e.lastThresh = now
		return
	}
	k := kDown
	if abs > e.threshold {
		k = kUp
	}
	dt := min(float64(now-e.lastThresh)/1e6, 100)
	e.threshold = min(max(e.threshold+k*(abs-e.threshold)*dt, thresholdMin), thresholdMax)
	e.lastThresh = now
}

// addAcked remembers that bytes arrived by the report at now.
func (e *Estimator) addAcked(now int64, bytes int) {
	if e.nwindow == len(e.window) {
		copy(e.window[:], e.window[1:])
		e.nwindow--
	}
	e.window[e.nwindow] = acked{at: now, bytes: bytes}
	e.nwindow++
}

// ackedRate is what arrived over the last ackedWindow, in bits per second,
// timed by when the reports came; 0 until two reports.
func (e *Estimator) ackedRate(now int64) float64 {
	// The reports from i on are in the window; report i's bytes arrived
	// since report i-1, so the oldest report's count from it on.
	i := e.nwindow
	for i > 1 && now-e.window[i-1].at <= int64(ackedWindow) {
		i--
	}
	i = max(i, 1)
	if i >= e.nwindow {
		return 0
	}
	bytes := 0
	for _, a := range e.window[i:e.nwindow] {
		bytes += a.bytes
	}
	span := now - e.window[i-1].at
	if span <= 0 {
		return 0
	}
	return float64(bytes) * 8 / (float64(span) / 1e9)
}

// update moves the estimate after a report, by the delay detector's
// reading, what arrived and the loss.
func (e *Estimator) update(now int64) {
	acked := e.ackedRate(now)
	if e.rate == 0 {
		e.rate = StartRate
		e.lastUpdate = now
	}
	dt := min(float64(now-e.lastUpdate)/1e9, 1)
	e.lastUpdate = now
	canDecrease := now-e.lastDecrease >= int64(decreaseEvery)
	switch {
	case e.usage == Overusing && canDecrease:
		if acked > 0 {
			e.rate = min(e.rate, decreaseFactor*acked)
		} else {
			e.rate *= decreaseFactor
		}
		e.lastDecrease = now
	case e.usage == Normal:
		e.rate *= 1 + increasePerSecond*dt
		if acked > e.rate {
			// The path delivered more than the estimate without its
			// queue growing (a probe): it has at least that.
			e.rate = acked
		}
	}
	if acked > 0 {
		e.rate = min(e.rate, ackedCap*acked+ackedSlack)
	}
	if e.loss > highLoss && canDecrease {
		e.rate *= 1 - 0.5*e.loss
		e.lastDecrease = now
	}
	e.rate = min(max(e.rate, minRate), maxRate)
}
