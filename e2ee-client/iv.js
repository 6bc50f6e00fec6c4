// IV construction (docs/e2ee.md §4): 8 random bytes chosen once per track
// (per transform) followed by a 32-bit big-endian frame counter. A new random
// prefix is drawn when the counter would wrap, so one sequence never repeats
// an IV, and two sequences under one key collide only if their random 64-bit
// prefixes are equal.

export class IVSequence {
  constructor() {
    /** @private */
    this.iv = new Uint8Array(12);
    /** @private */
    this.view = new DataView(this.iv.buffer);
    this.reseed();
  }

  /** @private */
  reseed() {
    globalThis.crypto.getRandomValues(this.iv.subarray(0, 8));
    this.view.setUint32(8, 0);
  }

  /** @returns {Uint8Array} a fresh copy of the next IV */
  next() {
    const out = this.iv.slice();
    const c = this.view.getUint32(8);
    if (c === 0xffffffff) this.reseed();
    else this.view.setUint32(8, c + 1);
    return out;
  }
}
