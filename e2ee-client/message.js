// Sealing of chat messages and display names with the room's message key
// (docs/e2ee.md §5). The server relays the sealed string as opaque text.
//
//   base64url( version 0x01 || IV 12 random bytes || AES-GCM(ciphertext || tag) )
//
// The version byte is the additional data, so it cannot be changed either.

import { decode, encode } from './b64.js';
import { buf } from './keys.js';

/** @typedef {import('./keys.js').RoomKeys} RoomKeys */

export const MESSAGE_VERSION = 1;
const IV_LEN = 12;
const TAG_LEN = 16;
const utf8 = new TextEncoder();
const utf8Strict = new TextDecoder('utf-8', { fatal: true });

/**
 * Seals with a caller-chosen IV; only for test vectors. seal() draws a random
 * IV: messages are few (far below 2^32 per room key), so random 96-bit IVs do
 * not repeat with any meaningful probability.
 * @param {RoomKeys} keys
 * @param {string} text
 * @param {Uint8Array} iv
 * @returns {Promise<string>}
 */
export async function sealWithIV(keys, text, iv) {
  if (iv.length !== IV_LEN) throw new RangeError('e2ee: IV must be 12 bytes');
  const ct = new Uint8Array(
    await globalThis.crypto.subtle.encrypt(
      { name: 'AES-GCM', iv: buf(iv), additionalData: buf(Uint8Array.of(MESSAGE_VERSION)), tagLength: 128 },
      keys.messageKey,
      buf(utf8.encode(text)),
    ),
  );
  const out = new Uint8Array(1 + IV_LEN + ct.length);
  out[0] = MESSAGE_VERSION;
  out.set(iv, 1);
  out.set(ct, 1 + IV_LEN);
  return encode(out);
}

/**
 * Encrypts a chat message or display name.
 * @param {RoomKeys} keys
 * @param {string} text
 * @returns {Promise<string>} base64url
 */
export function seal(keys, text) {
  const iv = new Uint8Array(IV_LEN);
  globalThis.crypto.getRandomValues(iv);
  return sealWithIV(keys, text, iv);
}

/**
 * Decrypts a sealed message.
 * @param {RoomKeys} keys
 * @param {string} sealed base64url from seal()
 * @returns {Promise<string>}
 * @throws {Error} if the message was altered, sealed with another key or is not a sealed message
 */
export async function open(keys, sealed) {
  let raw;
  try {
    raw = decode(sealed);
  } catch {
    throw new Error('e2ee: sealed message is not base64url');
  }
  if (raw.length < 1 + IV_LEN + TAG_LEN || raw[0] !== MESSAGE_VERSION) {
    throw new Error('e2ee: not a sealed message of a known version');
  }
  let pt;
  try {
    pt = await globalThis.crypto.subtle.decrypt(
      { name: 'AES-GCM', iv: buf(raw.subarray(1, 1 + IV_LEN)), additionalData: buf(raw.subarray(0, 1)), tagLength: 128 },
      keys.messageKey,
      buf(raw.subarray(1 + IV_LEN)),
    );
  } catch {
    throw new Error('e2ee: message authentication failed (altered, or sealed with another key)');
  }
  return utf8Strict.decode(pt);
}
