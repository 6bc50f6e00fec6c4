// Connection quality of one participant's media, from WebRTC statistics:
// the share of packets lost and the jitter since the last sample, or the
// round-trip time of what we send. Pure functions, so they are tested alone
// (web/test/quality.test.js).

/** @typedef {'good'|'fair'|'poor'|'unknown'} Quality */

/**
 * Cumulative receive counters of one participant (from Session.stats).
 * @typedef {object} ReceiveSample
 * @property {number} packets video and audio packets received
 * @property {number} lost video and audio packets lost
 * @property {number} jitter seconds
 */

/**
 * Quality of what we receive from someone between two samples. No packets
 * at all in the interval while they publish is "poor" (frozen), unless the
 * previous sample is missing.
 * @param {ReceiveSample|null} prev
 * @param {ReceiveSample} cur
 * @returns {Quality}
 */
export function receiveQuality(prev, cur) {
  if (!prev) return 'unknown';
  const got = Math.max(0, cur.packets - prev.packets);
  const lost = Math.max(0, cur.lost - prev.lost);
  if (got + lost === 0) return cur.packets > 0 ? 'poor' : 'unknown';
  return grade(lost / (got + lost), cur.jitter, 0);
}

/**
 * Quality of what we send, from the server's receiver reports.
 * @param {{fractionLost: number, rtt: number}|null} s rtt in seconds; null when no report yet
 * @returns {Quality}
 */
export function sendQuality(s) {
  if (!s) return 'unknown';
  return grade(s.fractionLost, 0, s.rtt);
}

/**
 * Thresholds as a person on a call feels them: a few percent loss or
 * 30 ms jitter or 300 ms round trip is noticeable, ten percent or
 * 100 ms jitter or 700 ms round trip is bad.
 * @param {number} loss 0..1
 * @param {number} jitter seconds
 * @param {number} rtt seconds
 * @returns {Quality}
 */
export function grade(loss, jitter, rtt) {
  if (loss >= 0.1 || jitter >= 0.1 || rtt >= 0.7) return 'poor';
  if (loss >= 0.03 || jitter >= 0.03 || rtt >= 0.3) return 'fair';
  return 'good';
}
