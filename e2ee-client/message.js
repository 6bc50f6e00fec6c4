// Sealing of chat messages and display names with the room's message key
// (docs/e2ee.md §5). The server relays the sealed string as opaque text.
//
//   header = version 0x02 | kind (1) | sender's join salt (16) | counter (8, big-endian)
//   sealed = base64url( header | IV (12 random) | AES-GCM(ciphertext | tag) )
//   additional data = header | sender id
//
// The sender id is the one the server says a message is from; a message
// moved to another sender, kind or join fails authentication, and the
// counter lets a receiver refuse a replayed one (PeerRegistry below).

import { decode, encode } from './b64.js';
import { buf, checkSalt, checkSenderId, JOIN_SALT_BYTES } from './keys.js';

/** @typedef {import('./keys.js').RoomKeys} RoomKeys */

export const MESSAGE_VERSION = 2;
/** Kinds of sealed message. */
export const KIND = /** @type {const} */ ({ profile: 1, chat: 2 });
/** @typedef {'profile'|'chat'} MessageKind */
const IV_LEN = 12;
const TAG_LEN = 16;
const HEADER_LEN = 2 + JOIN_SALT_BYTES + 8;
const utf8 = new TextEncoder();
const utf8Strict = new TextDecoder('utf-8', { fatal: true });

/**
 * Who seals, and where in their sequence.
 * @typedef {object} SealContext
 * @property {string} senderId our participant id
 * @property {Uint8Array} salt our join salt
 * @property {MessageKind} kind
 * @property {number} counter strictly increasing per join, below 2^53
 */

/**
 * An opened message and its context.
 * @typedef {object} Opened
 * @property {string} text
 * @property {Uint8Array} salt the sender's join salt
 * @property {number} counter
 */

/**
 * @param {SealContext} ctx
 * @returns {Uint8Array}
 */
function header(ctx) {
  checkSenderId(ctx.senderId);
  checkSalt(ctx.salt);
  if (!KIND[ctx.kind]) throw new TypeError('e2ee: unknown message kind');
  if (!Number.isSafeInteger(ctx.counter) || ctx.counter < 0) throw new RangeError('e2ee: message counter out of range');
  const h = new Uint8Array(HEADER_LEN);
  h[0] = MESSAGE_VERSION;
  h[1] = KIND[ctx.kind];
  h.set(ctx.salt, 2);
  new DataView(h.buffer).setBigUint64(2 + JOIN_SALT_BYTES, BigInt(ctx.counter));
  return h;
}

/**
 * @param {Uint8Array} hdr
 * @param {string} senderId
 */
function additionalData(hdr, senderId) {
  const id = utf8.encode(senderId);
  const ad = new Uint8Array(hdr.length + id.length);
  ad.set(hdr, 0);
  ad.set(id, hdr.length);
  return ad;
}

/**
 * Seals with a caller-chosen IV; only for test vectors. seal() draws a random
 * IV: messages are few (far below 2^32 per room key), so random 96-bit IVs do
 * not repeat with any meaningful probability.
 * @param {RoomKeys} keys
 * @param {SealContext} ctx
 * @param {string} text
 * @param {Uint8Array} iv
 * @returns {Promise<string>}
 */
export async function sealWithIV(keys, ctx, text, iv) {
  if (iv.length !== IV_LEN) throw new RangeError('e2ee: IV must be 12 bytes');
  const hdr = header(ctx);
  const ct = new Uint8Array(
    await globalThis.crypto.subtle.encrypt(
      { name: 'AES-GCM', iv: buf(iv), additionalData: buf(additionalData(hdr, ctx.senderId)), tagLength: 128 },
      keys.messageKey,
      buf(utf8.encode(text)),
    ),
  );
  const out = new Uint8Array(HEADER_LEN + IV_LEN + ct.length);
  out.set(hdr, 0);
  out.set(iv, HEADER_LEN);
  out.set(ct, HEADER_LEN + IV_LEN);
  return encode(out);
}

/**
 * Encrypts a chat message or profile.
 * @param {RoomKeys} keys
 * @param {SealContext} ctx
 * @param {string} text
 * @returns {Promise<string>} base64url
 */
export function seal(keys, ctx, text) {
  const iv = new Uint8Array(IV_LEN);
  globalThis.crypto.getRandomValues(iv);
  return sealWithIV(keys, ctx, text, iv);
}

/**
 * Decrypts a sealed message the server says came from `from` as `kind`.
 * @param {RoomKeys} keys
 * @param {{from: string, kind: MessageKind}} want
 * @param {string} sealed base64url from seal()
 * @returns {Promise<Opened>}
 * @throws {Error} if it was altered, moved to another sender or kind, sealed with another key or is not a sealed message
 */
export async function open(keys, want, sealed) {
  checkSenderId(want.from);
  let raw;
  try {
    raw = decode(sealed);
  } catch {
    throw new Error('e2ee: sealed message is not base64url');
  }
  if (raw.length < HEADER_LEN + IV_LEN + TAG_LEN || raw[0] !== MESSAGE_VERSION) {
    throw new Error('e2ee: not a sealed message of a known version');
  }
  if (raw[1] !== KIND[want.kind]) throw new Error('e2ee: sealed message of another kind');
  const hdr = raw.subarray(0, HEADER_LEN);
  let pt;
  try {
    pt = await globalThis.crypto.subtle.decrypt(
      { name: 'AES-GCM', iv: buf(raw.subarray(HEADER_LEN, HEADER_LEN + IV_LEN)), additionalData: buf(additionalData(hdr, want.from)), tagLength: 128 },
      keys.messageKey,
      buf(raw.subarray(HEADER_LEN + IV_LEN)),
    );
  } catch {
    throw new Error('e2ee: message authentication failed (altered, moved to another sender, or sealed with another key)');
  }
  const counter = new DataView(raw.buffer, raw.byteOffset + 2 + JOIN_SALT_BYTES, 8).getBigUint64(0);
  if (counter > BigInt(Number.MAX_SAFE_INTEGER)) throw new Error('e2ee: message counter out of range');
  return { text: utf8Strict.decode(pt), salt: raw.slice(2, 2 + JOIN_SALT_BYTES), counter: Number(counter) };
}
