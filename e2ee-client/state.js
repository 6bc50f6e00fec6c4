// Per-track decrypt state with a debounce (docs/e2ee.md §8). A state is
// reported only after every frame for HOLD_MS agreed with it, so one odd
// frame during a key change does not make the UI flicker, and a track whose
// frames all fail is reported within about HOLD_MS of the first failure.
// While failing, a change of the reason (say from "unverified" to
// "replay") held for HOLD_MS is reported too, so the UI can say why.

/** @typedef {'ok'|'failing'} DecryptState */
/**
 * Why frames of a track are dropped: a FrameError reason, or
 * "invalid" (the server announced the track in a way we refuse),
 * "unverified" (no fresh sealed profile of its sender, §5.1).
 * @typedef {import('./frame.js').FrameFailure|'invalid'|'unverified'|'error'} DropReason
 */
/** @typedef {{state: DecryptState, reason: DropReason|''}} StateReport */

export const HOLD_MS = 300;

/**
 * @typedef {object} TrackState
 * @property {DecryptState|null} reported
 * @property {DropReason|''} reportedReason
 * @property {DecryptState|null} candidate
 * @property {number} since
 * @property {DropReason|''} reason
 * @property {number} reasonSince
 */

export class DecryptStateTracker {
  /** @param {number} [holdMs] */
  constructor(holdMs = HOLD_MS) {
    this.holdMs = holdMs;
    /** @type {Map<number|string, TrackState>} */
    this.tracks = new Map();
  }

  /**
   * Records the outcome of one frame of a track.
   * @param {number|string} track
   * @param {boolean} ok
   * @param {DropReason|''} reason why it was dropped ('' when ok)
   * @param {number} now milliseconds
   * @returns {StateReport|null} a state to report now, or null
   */
  record(track, ok, reason, now) {
    let s = this.tracks.get(track);
    if (!s) {
      s = { reported: null, reportedReason: '', candidate: null, since: now, reason: '', reasonSince: now };
      this.tracks.set(track, s);
    }
    /** @type {DecryptState} */
    const cur = ok ? 'ok' : 'failing';
    if (cur !== s.candidate) {
      s.candidate = cur;
      s.since = now;
    }
    if (!ok && reason !== s.reason) {
      s.reason = reason;
      s.reasonSince = now;
    }
    if (now - s.since < this.holdMs) return null;
    if (ok) {
      if (s.reported === 'ok') return null;
      s.reported = 'ok';
      s.reportedReason = '';
      return { state: 'ok', reason: '' };
    }
    if (s.reported === 'failing' && (s.reason === s.reportedReason || now - s.reasonSince < this.holdMs)) return null;
    s.reported = 'failing';
    s.reportedReason = s.reason;
    return { state: 'failing', reason: s.reason };
  }

  /** @param {number|string} track */
  forget(track) {
    this.tracks.delete(track);
  }
}
