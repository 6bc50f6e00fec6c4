// Per-frame encryption (docs/e2ee.md §2). Pure functions on ArrayBuffers so
// the worker, the tests and any other caller share one implementation.
//
//   [clear codec bytes][AES-GCM ciphertext + 16-byte tag][IV 12][IV length 1 = 12][key index 1]
//
// The clear bytes are the AES-GCM additional data. For H.264 everything after
// the clear bytes is escaped with start-code emulation prevention.

import { buf } from './keys.js';

/** @typedef {'vp8'|'h264'|'opus'} Codec */

export const TAG_LEN = 16;
export const IV_LEN = 12;
export const TRAILER_LEN = IV_LEN + 2;
/**
 * Key index v1 reserved for frames an SFU injected. v2 accepts none: every
 * frame under it is dropped as "injected", so a server cannot make anyone
 * look muted while the UI says all is well (docs/e2ee.md §7).
 */
export const INJECTED_KEY_INDEX = 255;

/**
 * Opus, 20 ms CELT full-band mono, one frame, zero-length payload: silence.
 * A receiver puts it in place of an audio frame it dropped (§8); it never
 * comes from the network.
 */
export const OPUS_SILENCE = Uint8Array.of(0xf8, 0xff, 0xfe);

const CODECS = new Set(['vp8', 'h264', 'opus']);

/**
 * 'invalid' and 'unverified' are the worker's: a refused track, a sender without a fresh profile.
 * @typedef {'malformed'|'unknown-key'|'auth'|'injected'|'codec'|'replay'|'invalid'|'unverified'} FrameFailure
 */

/** Why a frame was not decrypted; the worker counts these by reason. */
export class FrameError extends Error {
  /**
   * @param {FrameFailure} reason
   * @param {string} message
   */
  constructor(reason, message) {
    super(message);
    this.name = 'FrameError';
    this.reason = reason;
  }
}

/**
 * @param {string} mimeType e.g. "video/VP8", "audio/opus"
 * @returns {Codec|null}
 */
export function codecFromMime(mimeType) {
  switch ((mimeType || '').toLowerCase()) {
    case 'video/vp8':
      return 'vp8';
    case 'video/h264':
      return 'h264';
    case 'audio/opus':
      return 'opus';
    default:
      return null;
  }
}

/**
 * Clear prefix of a VP8 or Opus frame. VP8 key frames keep the 3-byte frame
 * tag plus the 7-byte start code and dimensions, delta frames the frame tag;
 * Opus keeps the TOC byte.
 * @param {Codec} codec
 * @param {boolean} keyFrame
 * @param {number} len
 */
function simpleClearLen(codec, keyFrame, len) {
  const n = codec === 'opus' ? 1 : keyFrame ? 10 : 3;
  return Math.min(n, len);
}

/**
 * Finds the clear part of an Annex B H.264 frame: every NAL unit before the
 * first slice (types 1-5) and that slice's one-byte NAL header, or the first
 * NAL header if there is no slice. Returns the clear part rewritten with
 * 4-byte start codes, so the additional data does not depend on which start
 * code length a packetizer/depacketizer pair chose, and the offset in `f`
 * where the protected part starts.
 * @param {Uint8Array} f
 * @returns {{clear: Uint8Array, rest: number}}
 */
export function h264Clear(f) {
  /** @type {number[]} NAL header offsets */
  const nals = [];
  /** @type {number[]} where each NAL's start code begins (leading zeros included) */
  const starts = [];
  for (let i = 0; i + 2 < f.length; i++) {
    if (f[i] === 0 && f[i + 1] === 0 && f[i + 2] === 1) {
      let s = i;
      while (s > 0 && f[s - 1] === 0 && (starts.length === 0 || s - 1 >= nals[nals.length - 1] + 1)) s--;
      starts.push(s);
      nals.push(i + 3);
      i += 3; // resume after the NAL header: a header byte never starts a start code
    }
  }
  if (nals.length === 0 || starts[0] !== 0 || nals[0] >= f.length) {
    return { clear: new Uint8Array(0), rest: 0 };
  }
  let last = 0;
  while (last < nals.length && nals[last] < f.length) {
    const t = f[nals[last]] & 0x1f;
    if (t >= 1 && t <= 5) break;
    last++;
  }
  if (last === nals.length || nals[last] >= f.length) last = 0;
  /** @type {number[]} */
  const out = [];
  for (let k = 0; k <= last; k++) {
    out.push(0, 0, 0, 1);
    const end = k === last ? nals[k] + 1 : starts[k + 1];
    for (let j = nals[k]; j < end; j++) out.push(f[j]);
  }
  return { clear: Uint8Array.from(out), rest: nals[last] + 1 };
}

/**
 * H.264 emulation prevention: inserts 0x03 after two zero bytes when the next
 * byte is 0..3, and appends 0x03 if the output would end in 0x00. `zeros` is
 * the number of zero bytes the clear part ends with, so no start code can
 * straddle the boundary.
 * @param {Uint8Array} src
 * @param {number} zeros
 * @returns {Uint8Array}
 */
export function escapeH264(src, zeros) {
  const out = new Uint8Array(src.length + Math.floor(src.length / 2) + 2);
  let o = 0;
  for (let i = 0; i < src.length; i++) {
    const b = src[i];
    if (zeros >= 2 && b <= 3) {
      out[o++] = 3;
      zeros = 0;
    }
    out[o++] = b;
    zeros = b === 0 ? zeros + 1 : 0;
  }
  if (o > 0 && out[o - 1] === 0) out[o++] = 3;
  return out.subarray(0, o);
}

/**
 * Inverse of escapeH264 for a region whose unescaped form ends with the
 * frame trailer. A final 0x03 right after a 0x00 is the end pad: an authentic
 * trailer ends with [12][key index], never with [0][3].
 * @param {Uint8Array} src
 * @param {number} zeros
 * @returns {Uint8Array}
 */
export function unescapeH264(src, zeros) {
  const out = new Uint8Array(src.length);
  let o = 0;
  for (let i = 0; i < src.length; i++) {
    const b = src[i];
    if (zeros >= 2 && b === 3) {
      zeros = 0;
      continue;
    }
    out[o++] = b;
    zeros = b === 0 ? zeros + 1 : 0;
  }
  if (o >= 2 && out[o - 1] === 3 && out[o - 2] === 0) o--;
  return out.subarray(0, o);
}

/**
 * Whether a decrypted frame starts a new picture on its own: the VP8 P bit
 * is 0, or an H.264 frame has an IDR slice or an SPS in its clear part.
 * Receivers drop video until one arrives (§8), so nothing decoded before
 * their transform was attached can shape what is shown.
 * @param {Codec} codec
 * @param {ArrayBuffer} data decrypted
 * @returns {boolean}
 */
export function isKeyFrame(codec, data) {
  const f = new Uint8Array(data);
  if (f.length === 0) return false;
  if (codec === 'vp8') return (f[0] & 1) === 0;
  if (codec !== 'h264') return true;
  const { clear } = h264Clear(f);
  for (let i = 0; i + 4 < clear.length; i++) {
    if (clear[i] === 0 && clear[i + 1] === 0 && clear[i + 2] === 0 && clear[i + 3] === 1) {
      const t = clear[i + 4] & 0x1f;
      if (t === 5 || t === 7) return true;
    }
  }
  return false;
}

/** @param {Uint8Array} u8 */
function trailingZeros(u8) {
  let z = 0;
  for (let i = u8.length - 1; i >= 0 && u8[i] === 0 && z < 2; i--) z++;
  return z;
}

/**
 * Splits a frame into its clear part (as used for additional data) and the
 * offset where the protected part starts.
 * @param {Codec} codec
 * @param {boolean} keyFrame only used for VP8 on the sending side
 * @param {Uint8Array} f
 */
function split(codec, keyFrame, f) {
  if (codec === 'h264') return h264Clear(f);
  const n = simpleClearLen(codec, keyFrame, f.length);
  return { clear: f.subarray(0, n), rest: n };
}

/**
 * Encrypts one encoded frame. Empty frames are returned unchanged.
 * @param {CryptoKey} key the sender's frame key
 * @param {Codec} codec
 * @param {boolean} keyFrame whether this is a key frame (VP8 only)
 * @param {Uint8Array} iv 12 bytes, never repeated under this key
 * @param {number} keyIndex 0..254
 * @param {ArrayBuffer} data
 * @returns {Promise<ArrayBuffer>}
 */
export async function encryptFrame(key, codec, keyFrame, iv, keyIndex, data) {
  if (iv.length !== IV_LEN) throw new RangeError('e2ee: IV must be 12 bytes');
  if (!(keyIndex >= 0 && keyIndex < INJECTED_KEY_INDEX && Number.isInteger(keyIndex))) {
    throw new RangeError('e2ee: key index must be 0..254');
  }
  if (!CODECS.has(codec)) throw new FrameError('codec', 'e2ee: unsupported codec');
  const f = new Uint8Array(data);
  if (f.length === 0) return data;
  const { clear, rest } = split(codec, keyFrame, f);
  const sealed = new Uint8Array(
    await globalThis.crypto.subtle.encrypt(
      { name: 'AES-GCM', iv: buf(iv), additionalData: buf(clear), tagLength: 128 },
      key,
      buf(f.subarray(rest)),
    ),
  );
  /** @type {Uint8Array} */
  let prot = new Uint8Array(sealed.length + TRAILER_LEN);
  prot.set(sealed, 0);
  prot.set(iv, sealed.length);
  prot[sealed.length + IV_LEN] = IV_LEN;
  prot[sealed.length + IV_LEN + 1] = keyIndex;
  if (codec === 'h264') prot = escapeH264(prot, trailingZeros(clear));
  const out = new Uint8Array(clear.length + prot.length);
  out.set(clear, 0);
  out.set(prot, clear.length);
  return out.buffer;
}

/**
 * Decrypts one frame. Empty frames are returned unchanged. Any frame that is
 * not authentic throws a FrameError and must be dropped, never decoded.
 * `fresh`, if given, is asked after authentication whether this (key index,
 * IV) is new; a false answer throws FrameError 'replay' (§4.1). It runs
 * only for authentic frames, so a forged frame cannot move a replay window.
 * @param {(keyIndex: number) => CryptoKey|undefined|null|Promise<CryptoKey|undefined|null>} keyFor
 *   the sender's frame key for a key index, or nothing if that index is unknown
 * @param {Codec} codec
 * @param {ArrayBuffer} data
 * @param {(keyIndex: number, iv: Uint8Array) => boolean} [fresh]
 * @returns {Promise<ArrayBuffer>}
 */
export async function decryptFrame(keyFor, codec, data, fresh) {
  if (!CODECS.has(codec)) throw new FrameError('codec', 'e2ee: unsupported codec');
  const f = new Uint8Array(data);
  if (f.length === 0) return data;
  /** @type {Uint8Array} */
  let clear;
  /** @type {Uint8Array} */
  let prot;
  if (codec === 'h264') {
    const sp = h264Clear(f);
    clear = sp.clear;
    prot = unescapeH264(f.subarray(sp.rest), trailingZeros(clear));
  } else if (f[f.length - 1] === INJECTED_KEY_INDEX) {
    throw new FrameError('injected', 'e2ee: frame injected by the server');
  } else {
    // The VP8 P bit (bit 0 of the first byte, 0 on key frames) is in the
    // clear part, so the receiver needs no out-of-band frame type. The clamp
    // mirrors encryptFrame's for frames shorter than the codec's clear part.
    if (f.length < TAG_LEN + TRAILER_LEN) throw new FrameError('malformed', 'e2ee: frame too short');
    const n = simpleClearLen(codec, codec === 'vp8' && (f[0] & 1) === 0, f.length - TAG_LEN - TRAILER_LEN);
    clear = f.subarray(0, n);
    prot = f.subarray(n);
  }
  if (prot.length < 2) throw new FrameError('malformed', 'e2ee: frame too short');
  const keyIndex = prot[prot.length - 1];
  const ivLen = prot[prot.length - 2];
  if (keyIndex === INJECTED_KEY_INDEX) throw new FrameError('injected', 'e2ee: frame injected by the server');
  if (ivLen !== IV_LEN || prot.length < TAG_LEN + TRAILER_LEN) {
    throw new FrameError('malformed', 'e2ee: bad frame trailer');
  }
  const key = await keyFor(keyIndex);
  if (!key) throw new FrameError('unknown-key', 'e2ee: unknown key index');
  const ivAt = prot.length - TRAILER_LEN;
  let plain;
  try {
    plain = new Uint8Array(
      await globalThis.crypto.subtle.decrypt(
        { name: 'AES-GCM', iv: buf(prot.subarray(ivAt, ivAt + IV_LEN)), additionalData: buf(clear), tagLength: 128 },
        key,
        buf(prot.subarray(0, ivAt)),
      ),
    );
  } catch {
    throw new FrameError('auth', 'e2ee: frame authentication failed');
  }
  if (fresh && !fresh(keyIndex, prot.subarray(ivAt, ivAt + IV_LEN))) throw new FrameError('replay', 'e2ee: frame seen before');
  const out = new Uint8Array(clear.length + plain.length);
  out.set(clear, 0);
  out.set(plain, clear.length);
  return out.buffer;
}
