// Replay window for received frames (docs/e2ee.md §4.1). One window per
// frame key (sender, source, join, key index); inside it, one sliding
// window of REPLAY_WINDOW counters per IV prefix, like SRTP's. A frame is
// fresh if its counter is above the highest seen under its prefix, or
// within REPLAY_WINDOW below it and not seen yet. Only authentic frames are
// checked, so a forged frame cannot move a window.

export const REPLAY_WINDOW = 128;
/**
 * A sender starts a new prefix for every track it publishes in one join
 * (a screen share stopped and started again). Beyond this many prefixes
 * under one key, new ones are refused rather than old ones forgotten:
 * forgetting would let a recording of the forgotten prefix play again.
 */
export const MAX_PREFIXES = 64;

export class ReplayWindow {
  constructor() {
    /** @type {Map<string, {top: number, ring: Float64Array}>} */
    this.prefixes = new Map();
  }

  /**
   * Records the IV and says whether it is new.
   * @param {Uint8Array} iv 12 bytes: prefix (8) and big-endian counter (4)
   * @returns {boolean}
   */
  fresh(iv) {
    if (iv.length !== 12) return false;
    let prefix = '';
    for (let i = 0; i < 8; i++) prefix += String.fromCharCode(iv[i]);
    const c = ((iv[8] << 24) >>> 0) + (iv[9] << 16) + (iv[10] << 8) + iv[11];
    let w = this.prefixes.get(prefix);
    if (!w) {
      if (this.prefixes.size >= MAX_PREFIXES) return false;
      w = { top: c, ring: new Float64Array(REPLAY_WINDOW).fill(-1) };
      this.prefixes.set(prefix, w);
    } else if (c <= w.top) {
      if (w.top - c >= REPLAY_WINDOW || w.ring[c % REPLAY_WINDOW] === c) return false;
    } else {
      w.top = c;
    }
    w.ring[c % REPLAY_WINDOW] = c;
    return true;
  }
}
