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
	// (plus ackedSlack). The SFU pads to probe when it wants more, so the
	// estimate need not run ahead of what the path showed: at 1.5 times
	// (as GCC allows, for senders that do not probe) it reached the
	// 590 kbit/s the 640x360 layer asks on a 500 kbit/s link, the layer
	// went up, its key frame filled the queue, and it came down again,
	// every few seconds.
	ackedCap   = 1.1
	ackedSlack = 10_000
	// decreaseEvery bounds how often delay or loss lowers the estimate:
	// the queue needs about a round trip to drain.
	decreaseEvery = 200 * time.Millisecond
	// Loss over highLoss lowers the estimate by half the loss; under
	// lowLoss that limit grows back by lossRecovery a report, and lapses
	// once the delay's is the lower.
	highLoss = 0.10
	lowLoss  = 0.02
	// lossRecovery is the growth of the loss's limit per report without
	// loss (reports come every 50-100 ms).
	lossRecovery = 1.05
	// ackedWindow is how far back what arrived is measured.
	ackedWindow = 500 * time.Millisecond
	// lossWeight is the weight of the newest lossPackets' loss in the
	// smoothed loss.
	lossWeight  = 0.3
	lossPackets = 20
	// jumpAfter is how long after a decrease the estimate does not jump
	// to what arrived: the queue the overuse built still drains.
	jumpAfter = time.Second
)

// usage is the delay detector's reading of the path: calm, its queue
// growing, or draining.
type usage int

const (
	normal usage = iota
	overusing
	underusing
)

// group is packets sent within burstSpan of the first: the unit whose
// arrival spacing is compared with its send spacing.
type group struct {
	firstSend, lastSend, lastArrival int64 // microseconds
	valid                            bool
}

// acked is what arrived between the ends of two reports in a row: the
// bytes of the later one's packets over the time from the earlier one's
// last arrival to its own. A report that follows a lost one gives no
// sample: measured within itself, from its first arrival, a report of
// frames sent in bursts overstated what arrived by a third (a browser
// addresses each report to the stream it last received from, and a
// report to an RTX stream does not reach the SFU: Pion reads RTCP only
// for a sender's media stream).
type acked struct {
	at    int64 // unix nanoseconds of the report
	bytes int
	span  int64 // microseconds
}

// Estimator turns transport-wide feedback into a bandwidth estimate.
// Its methods are safe for concurrent use.
type Estimator struct {
	h *History

	mu   sync.Mutex
	rate float64 // bits per second; 0 before the first report
	// delayRate is what the delay detector allows, lossRate what the
	// loss allows (maxRate: no limit); rate is the lower.
	delayRate, lossRate float64
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
	usage      usage
	// rate
	lastUpdate   int64 // unix nanoseconds
	lastDecrease int64
	decreases    uint64
	window       [16]acked
	nwindow      int
	loss         float64 // smoothed fraction lost
	lossCount    [2]int  // packets received and lost not yet in loss
	// The end of the last report: the number after its last status and
	// its last arrival. A report that starts there measures what arrived
	// from it; one after a lost report, within itself.
	endSeq   uint16
	endArr   int64
	endValid bool
}

// NewEstimator returns an estimator of the packets h records.
func NewEstimator(h *History) *Estimator {
	return &Estimator{h: h, threshold: thresholdStart, lossRate: maxRate}
}

// Rate returns the estimate in bits per second, 0 while nothing was
// reported.
func (e *Estimator) Rate() uint64 {
	e.mu.Lock()
	defer e.mu.Unlock()
	return uint64(e.rate)
}

// State returns the estimate and how many times delay or loss lowered
// it: a caller can tell a fall from the estimate following what arrived.
func (e *Estimator) State() (bps, decreases uint64) {
	e.mu.Lock()
	defer e.mu.Unlock()
	return uint64(e.rate), e.decreases
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
	lastArr := int64(0)
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
		lastArr = max(lastArr, arrival)
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
	if received > 0 && e.endValid && fb.BaseSequenceNumber == e.endSeq && lastArr > e.endArr {
		e.addAcked(acked{at: nowNs, bytes: bytes, span: lastArr - e.endArr})
	}
	e.endSeq, e.endValid = seq, received > 0
	e.endArr = lastArr
	// Loss is judged over lossPackets at least: a report of a quiet
	// stream may hold three packets.
	e.lossCount[0] += received
	e.lossCount[1] += lost
	if n := e.lossCount[0] + e.lossCount[1]; n >= lossPackets {
		e.loss += lossWeight * (float64(e.lossCount[1])/float64(n) - e.loss)
		e.lossCount = [2]int{}
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
			e.usage = overusing
			e.overStart, e.overCount = 0, 0
		}
	case trend < -e.threshold:
		e.overStart, e.overCount = 0, 0
		e.usage = underusing
	default:
		e.overStart, e.overCount = 0, 0
		e.usage = normal
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

// addAcked remembers what a report says arrived.
func (e *Estimator) addAcked(a acked) {
	if e.nwindow == len(e.window) {
		copy(e.window[:], e.window[1:])
		e.nwindow--
	}
	e.window[e.nwindow] = a
	e.nwindow++
}

// minAckedSpan is the least time of arrivals what arrived is measured over.
const minAckedSpan = 20 * time.Millisecond

// ackedRate is what arrived in the reports of the last ackedWindow, in
// bits per second over the time the packets of each took to arrive; 0
// while that is under minAckedSpan.
func (e *Estimator) ackedRate(now int64) float64 {
	var bytes int
	var span int64
	for i := e.nwindow - 1; i >= 0 && now-e.window[i].at <= int64(ackedWindow); i-- {
		bytes += e.window[i].bytes
		span += e.window[i].span
	}
	if span < minAckedSpan.Microseconds() {
		return 0
	}
	return float64(bytes) * 8 / (float64(span) / 1e6)
}

// update moves the estimate after a report, by the delay detector's
// reading, what arrived and the loss.
func (e *Estimator) update(now int64) {
	acked := e.ackedRate(now)
	if e.rate == 0 {
		e.delayRate = StartRate
		e.lastUpdate = now
	}
	dt := min(float64(now-e.lastUpdate)/1e9, 1)
	e.lastUpdate = now
	canDecrease := now-e.lastDecrease >= int64(decreaseEvery)
	switch {
	case e.usage == overusing && canDecrease:
		if acked > 0 {
			e.delayRate = min(e.delayRate, decreaseFactor*acked)
		} else {
			e.delayRate *= decreaseFactor
		}
		e.lastDecrease = now
		e.decreases++
	case e.usage == normal:
		e.delayRate *= 1 + increasePerSecond*dt
		if acked > e.delayRate && now-e.lastDecrease >= int64(jumpAfter) {
			// The path delivered more than the estimate without its
			// queue growing (a probe): it has at least that.
			e.delayRate = acked
		}
	}
	if acked > 0 {
		e.delayRate = min(e.delayRate, ackedCap*acked+ackedSlack)
	}
	switch {
	case e.loss > highLoss && canDecrease:
		e.lossRate = min(e.lossRate, e.delayRate) * (1 - 0.5*e.loss)
		e.lastDecrease = now
		e.decreases++
	case e.loss < lowLoss:
		e.lossRate *= lossRecovery
		if e.lossRate >= e.delayRate {
			e.lossRate = maxRate
		}
	}
	e.delayRate = min(max(e.delayRate, minRate), maxRate)
	e.rate = min(max(min(e.delayRate, e.lossRate), minRate), maxRate)
}
