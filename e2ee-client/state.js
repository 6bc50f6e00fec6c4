// Per-sender decrypt state with a debounce (docs/e2ee.md §8). A state is
// reported only after every frame for HOLD_MS agreed with it, so one odd
// frame during a key change does not make the UI flicker, and a sender whose
// frames all fail is reported within about HOLD_MS of the first failure.

/** @typedef {'ok'|'failing'} DecryptState */

export const HOLD_MS = 300;

export class DecryptStateTracker {
  /** @param {number} [holdMs] */
  constructor(holdMs = HOLD_MS) {
    this.holdMs = holdMs;
    /** @type {Map<string, {reported: DecryptState|null, candidate: DecryptState|null, since: number}>} */
    this.senders = new Map();
  }

  /**
   * Records the outcome of one frame.
   * @param {string} senderId
   * @param {boolean} ok
   * @param {number} now milliseconds
   * @returns {DecryptState|null} a state to report now, or null
   */
  record(senderId, ok, now) {
    let s = this.senders.get(senderId);
    if (!s) {
      s = { reported: null, candidate: null, since: now };
      this.senders.set(senderId, s);
    }
    /** @type {DecryptState} */
    const cur = ok ? 'ok' : 'failing';
    if (cur === s.reported) {
      s.candidate = null;
      return null;
    }
    if (s.candidate !== cur) {
      s.candidate = cur;
      s.since = now;
    }
    if (now - s.since < this.holdMs) return null;
    s.reported = cur;
    s.candidate = null;
    return cur;
  }

  /** @param {string} senderId */
  forget(senderId) {
    this.senders.delete(senderId);
  }
}
