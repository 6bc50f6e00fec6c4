// Opus RED (RFC 2198) payloads, sealed block by block (docs/e2ee.md §2.2.1).
//
// Chromium builds RED inside its audio encoder, before the encoded transform,
// so a sender's transform sees [headers][older blocks][primary block]. Each
// block is sealed on its own as an Opus frame and the headers stay in clear
// with the sealed lengths, so the SFU can hand a subscriber without RED the
// primary block alone, and a receiver that lost a packet decodes the copy
// of it carried by the next one.
//
//   redundant header: F=1 | block PT (7) | timestamp offset (14) | length (10)
//   primary header:   F=0 | block PT (7)

import { FrameError } from './frame.js';

/**
 * @typedef {object} RedBlock
 * @property {number} pt the block's payload type (the inner Opus)
 * @property {number} tsOffset redundant blocks: how far before the packet's timestamp; primary: 0
 * @property {Uint8Array} data
 */

/** More older blocks than this is not RED a browser sends: malformed. */
export const MAX_RED_BLOCKS = 8;
/** A redundant block's length field has 10 bits. */
export const MAX_RED_BLOCK_LEN = 1023;

/**
 * Splits a RED payload into its blocks, oldest first, primary last. Returns
 * null if the payload is not well-formed RED (headers past the end, lengths
 * past the end, too many blocks).
 * @param {Uint8Array} p
 * @returns {RedBlock[]|null}
 */
export function parseRED(p) {
  /** @type {{pt: number, tsOffset: number, len: number}[]} */
  const heads = [];
  let i = 0;
  for (;;) {
    if (i >= p.length) return null;
    const b = p[i];
    if ((b & 0x80) === 0) {
      i++;
      break;
    }
    if (i + 4 > p.length || heads.length === MAX_RED_BLOCKS) return null;
    heads.push({
      pt: b & 0x7f,
      tsOffset: (p[i + 1] << 6) | (p[i + 2] >> 2),
      len: ((p[i + 2] & 0x03) << 8) | p[i + 3],
    });
    i += 4;
  }
  const primaryPT = p[i - 1] & 0x7f;
  /** @type {RedBlock[]} */
  const blocks = [];
  for (const h of heads) {
    if (i + h.len > p.length) return null;
    blocks.push({ pt: h.pt, tsOffset: h.tsOffset, data: p.subarray(i, i + h.len) });
    i += h.len;
  }
  blocks.push({ pt: primaryPT, tsOffset: 0, data: p.subarray(i) });
  return blocks;
}

/**
 * Builds a RED payload from blocks, oldest first, primary last. Older
 * blocks longer than a length field holds are left out: the primary is
 * what must arrive.
 * @param {RedBlock[]} blocks at least the primary
 * @returns {Uint8Array}
 */
export function buildRED(blocks) {
  if (blocks.length === 0) throw new RangeError('red: no primary block');
  const primary = blocks[blocks.length - 1];
  const older = blocks.slice(0, -1).filter((b) => b.data.length <= MAX_RED_BLOCK_LEN && b.tsOffset < 1 << 14);
  let n = 1 + primary.data.length;
  for (const b of older) n += 4 + b.data.length;
  const out = new Uint8Array(n);
  let o = 0;
  for (const b of older) {
    out[o++] = 0x80 | (b.pt & 0x7f);
    out[o++] = b.tsOffset >> 6;
    out[o++] = ((b.tsOffset & 0x3f) << 2) | (b.data.length >> 8);
    out[o++] = b.data.length & 0xff;
  }
  out[o++] = primary.pt & 0x7f;
  for (const b of older) {
    out.set(b.data, o);
    o += b.data.length;
  }
  out.set(primary.data, o);
  return out;
}

/**
 * What a sender sealed lately: the redundant blocks Chromium sends are
 * byte for byte the primaries of the packets before, so they are sent as
 * the same sealed bytes. A receiver that got the first copy then refuses
 * the second as a replay, and one that lost it decodes it once.
 */
export class SealedHistory {
  /** @param {number} size how many primaries to remember */
  constructor(size = 4) {
    /** @private @type {{plain: Uint8Array, sealed: Uint8Array}[]} */
    this.items = [];
    /** @private */
    this.size = size;
  }

  /**
   * @param {Uint8Array} plain
   * @returns {Uint8Array|undefined} what plain was sealed as, if remembered
   */
  find(plain) {
    for (const it of this.items) {
      if (equal(it.plain, plain)) return it.sealed;
    }
    return undefined;
  }

  /**
   * @param {Uint8Array} plain
   * @param {Uint8Array} sealed
   */
  remember(plain, sealed) {
    this.items.push({ plain: plain.slice(), sealed });
    if (this.items.length > this.size) this.items.shift();
  }
}

/**
 * @param {Uint8Array} a
 * @param {Uint8Array} b
 */
function equal(a, b) {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/**
 * Seals a RED payload block by block. Returns null if it is not
 * well-formed RED: the sender then drops it, as any frame it cannot seal.
 * @param {Uint8Array} p the payload from the encoder
 * @param {(plain: Uint8Array) => Promise<Uint8Array>} seal seals one Opus frame
 * @param {SealedHistory} history this track's recent primaries
 * @returns {Promise<Uint8Array|null>}
 */
export async function sealRED(p, seal, history) {
  const blocks = parseRED(p);
  if (!blocks) return null;
  /** @type {RedBlock[]} */
  const out = [];
  for (let k = 0; k < blocks.length; k++) {
    const b = blocks[k];
    const primary = k === blocks.length - 1;
    const sealed = (!primary && history.find(b.data)) || (await seal(b.data));
    if (primary) history.remember(b.data, sealed);
    out.push({ pt: b.pt, tsOffset: b.tsOffset, data: sealed });
  }
  return buildRED(out);
}

/**
 * Opens a sealed RED payload. The primary block must open, or this throws
 * what `open` threw and the whole packet is dropped; an older block that
 * does not open (most often a replay: its first copy arrived) is left out.
 * @param {Uint8Array} p
 * @param {(sealed: Uint8Array) => Promise<Uint8Array>} open opens one Opus frame or throws
 * @returns {Promise<{data: Uint8Array, refused: unknown[]}>} the plain payload and why older blocks were left out
 */
export async function openRED(p, open) {
  const blocks = parseRED(p);
  if (!blocks) throw new FrameError('malformed', 'e2ee: malformed RED payload');
  const primary = blocks[blocks.length - 1];
  /** @type {RedBlock[]} */
  const out = [{ pt: primary.pt, tsOffset: 0, data: await open(primary.data) }];
  /** @type {unknown[]} */
  const refused = [];
  for (let k = blocks.length - 2; k >= 0; k--) {
    const b = blocks[k];
    try {
      out.unshift({ pt: b.pt, tsOffset: b.tsOffset, data: await open(b.data) });
    } catch (e) {
      refused.push(e);
    }
  }
  return { data: buildRED(out), refused };
}

/**
 * What a receiver plays in place of a RED packet it dropped: RED holding
 * one Opus silence frame, or null if the payload is not RED at all.
 * @param {Uint8Array} p
 * @param {Uint8Array} silence
 * @returns {Uint8Array|null}
 */
export function redSilence(p, silence) {
  const blocks = parseRED(p);
  if (!blocks) return null;
  return buildRED([{ pt: blocks[blocks.length - 1].pt, tsOffset: 0, data: silence }]);
}
