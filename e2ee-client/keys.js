// Key derivation for MonkeyThorn Meet end-to-end encryption (docs/e2ee.md §3).
//
// link key (16 random bytes, base64url in the invite link's #fragment)
//   └─ PBKDF2-HMAC-SHA256(salt = SALT_PREFIX + room code, 100 000 rounds) → 32-byte room secret
//        ├─ HKDF-SHA256(salt = sender's join salt, info = FRAME_INFO + source + "/" + sender id)
//        │                                              → 16-byte AES-128-GCM frame key, one per
//        │                                                sender, source and join
//        ├─ HKDF-SHA256(info = MESSAGE_INFO)          → 16-byte AES-128-GCM key for chat and names
//        └─ HKDF-SHA256(info = SAFETY_INFO)           → 8 bytes shown as the 16-digit safety code
//
// The room secret never leaves this module as bytes: it is imported as a
// non-extractable HKDF CryptoKey, which can still be posted to a worker
// (CryptoKey is structured-cloneable).

import { decode, encode } from './b64.js';

export const PBKDF2_ITERATIONS = 100000;
export const SALT_PREFIX = 'monkeythorn-meet/e2ee/v2/room/';
export const FRAME_INFO = 'monkeythorn-meet/e2ee/v2/frame/';
export const MESSAGE_INFO = 'monkeythorn-meet/e2ee/v2/message';
export const SAFETY_INFO = 'monkeythorn-meet/e2ee/v2/safety-code';
export const LINK_KEY_BYTES = 16;
/** Bytes of the random salt each participant draws per join (docs/e2ee.md §3). */
export const JOIN_SALT_BYTES = 16;
/** What a media track carries; bound into its frame key. */
export const SOURCES = /** @type {const} */ (['microphone', 'camera', 'screen']);
/** @typedef {'microphone'|'camera'|'screen'} Source */

const SAFETY_MODULUS = 10n ** 16n;
const ROOM_CODE = /^[abcdefghjkmnpqrstuvwxyz23456789]{9}$/;
const SENDER_ID = /^[A-Za-z0-9_-]{1,64}$/;
const utf8 = new TextEncoder();

/** @returns {SubtleCrypto} */
function subtle() {
  if (!globalThis.crypto || !globalThis.crypto.subtle) {
    throw new Error('e2ee: WebCrypto is unavailable (the page must be served over https or from localhost)');
  }
  return globalThis.crypto.subtle;
}

/**
 * Copies bytes into a fresh ArrayBuffer, the one BufferSource shape every
 * WebCrypto implementation and TypeScript lib version accepts.
 * @param {Uint8Array} u8
 * @returns {ArrayBuffer}
 */
export function buf(u8) {
  const out = new ArrayBuffer(u8.length);
  new Uint8Array(out).set(u8);
  return out;
}

/** @returns {string} a fresh 128-bit link key, base64url, 22 characters */
export function newLinkKey() {
  const k = new Uint8Array(LINK_KEY_BYTES);
  globalThis.crypto.getRandomValues(k);
  return encode(k);
}

/**
 * @param {string} linkKey
 * @returns {Uint8Array}
 */
export function decodeLinkKey(linkKey) {
  let raw;
  try {
    raw = decode(linkKey);
  } catch {
    throw new TypeError('e2ee: the link key is not base64url; check that the whole invite link was copied');
  }
  if (raw.length !== LINK_KEY_BYTES) {
    throw new TypeError('e2ee: the link key must be 22 base64url characters; check that the whole invite link was copied');
  }
  return raw;
}

/** @param {string} roomCode */
function checkRoomCode(roomCode) {
  if (typeof roomCode !== 'string' || !ROOM_CODE.test(roomCode)) {
    throw new TypeError('e2ee: invalid room code');
  }
}

/** @param {string} senderId */
export function checkSenderId(senderId) {
  if (typeof senderId !== 'string' || !SENDER_ID.test(senderId)) {
    throw new TypeError('e2ee: invalid sender id');
  }
}

/**
 * @param {unknown} source
 * @returns {asserts source is Source}
 */
export function checkSource(source) {
  if (!SOURCES.includes(/** @type {Source} */ (source))) throw new TypeError('e2ee: source must be microphone, camera or screen');
}

/**
 * @param {unknown} salt
 * @returns {asserts salt is Uint8Array}
 */
export function checkSalt(salt) {
  if (!(salt instanceof Uint8Array) || salt.length !== JOIN_SALT_BYTES) throw new TypeError('e2ee: a join salt is 16 bytes');
}

/** @returns {Uint8Array} a fresh random join salt */
export function newJoinSalt() {
  const s = new Uint8Array(JOIN_SALT_BYTES);
  globalThis.crypto.getRandomValues(s);
  return s;
}

/**
 * @param {string} linkKey
 * @param {string} roomCode
 * @returns {Promise<CryptoKey>} the room secret as a non-extractable HKDF key
 */
async function roomSecret(linkKey, roomCode) {
  checkRoomCode(roomCode);
  const raw = decodeLinkKey(linkKey);
  const s = subtle();
  const pw = await s.importKey('raw', buf(raw), 'PBKDF2', false, ['deriveBits']);
  const bits = await s.deriveBits(
    { name: 'PBKDF2', hash: 'SHA-256', salt: buf(utf8.encode(SALT_PREFIX + roomCode)), iterations: PBKDF2_ITERATIONS },
    pw,
    256,
  );
  return s.importKey('raw', bits, 'HKDF', false, ['deriveBits', 'deriveKey']);
}

/**
 * @param {CryptoKey} secret HKDF key
 * @param {string} info
 * @param {number} bytes
 * @param {Uint8Array} [salt] empty when absent
 * @returns {Promise<Uint8Array>}
 */
async function hkdf(secret, info, bytes, salt) {
  const bits = await subtle().deriveBits(
    { name: 'HKDF', hash: 'SHA-256', salt: salt ? buf(salt) : new ArrayBuffer(0), info: buf(utf8.encode(info)) },
    secret,
    bytes * 8,
  );
  return new Uint8Array(bits);
}

/**
 * @param {Uint8Array} raw
 * @param {boolean} extractable
 * @returns {Promise<CryptoKey>}
 */
function aesKey(raw, extractable) {
  return subtle().importKey('raw', buf(raw), { name: 'AES-GCM' }, extractable, ['encrypt', 'decrypt']);
}

/** The keys of one room under one link key. */
export class RoomKeys {
  /**
   * Use deriveRoomKeys or RoomKeys.fromSecret; the constructor is internal.
   * @param {CryptoKey} secret
   * @param {CryptoKey} messageKey
   */
  constructor(secret, messageKey) {
    /** @readonly the room secret, an HKDF CryptoKey; post this to a worker */
    this.secret = secret;
    /** @readonly AES-128-GCM key for chat and display names */
    this.messageKey = messageKey;
    /** @type {Map<string, Promise<CryptoKey>>} */
    this._frameKeys = new Map();
  }

  /**
   * Rebuilds RoomKeys from a secret received from another context.
   * @param {CryptoKey} secret
   * @returns {Promise<RoomKeys>}
   */
  static async fromSecret(secret) {
    return new RoomKeys(secret, await aesKey(await hkdf(secret, MESSAGE_INFO, 16), false));
  }

  /**
   * The AES-128-GCM key of one media source of one sender in one join, cached.
   * @param {string} senderId the sender's participant id
   * @param {Source} source microphone, camera or screen
   * @param {Uint8Array} salt the sender's join salt (from its sealed profile)
   * @returns {Promise<CryptoKey>}
   */
  frameKey(senderId, source, salt) {
    checkSenderId(senderId);
    checkSource(source);
    checkSalt(salt);
    const id = source + '/' + senderId + '/' + encode(salt);
    let k = this._frameKeys.get(id);
    if (!k) {
      k = this.frameKeyBytes(senderId, source, salt).then((raw) => aesKey(raw, false));
      // A room has few senders, but ids come from the network: bound the cache.
      if (this._frameKeys.size >= 1024) this._frameKeys.clear();
      this._frameKeys.set(id, k);
    }
    return k;
  }

  /**
   * The raw frame key bytes; for test vectors and interoperability checks.
   * @param {string} senderId
   * @param {Source} source
   * @param {Uint8Array} salt
   * @returns {Promise<Uint8Array>}
   */
  frameKeyBytes(senderId, source, salt) {
    checkSenderId(senderId);
    checkSource(source);
    checkSalt(salt);
    return hkdf(this.secret, FRAME_INFO + source + '/' + senderId, 16, salt);
  }

  /**
   * The raw message key bytes; for test vectors only.
   * @returns {Promise<Uint8Array>}
   */
  messageKeyBytes() {
    return hkdf(this.secret, MESSAGE_INFO, 16);
  }

  /**
   * The safety code of this room key: 16 digits in groups of four, about
   * 53 bits, e.g. "0123 4567 8901 2345" (docs/e2ee.md §9).
   * @returns {Promise<string>}
   */
  async safetyCode() {
    const b = await hkdf(this.secret, SAFETY_INFO, 8);
    const n = new DataView(b.buffer, b.byteOffset, 8).getBigUint64(0) % SAFETY_MODULUS;
    const d = n.toString().padStart(16, '0');
    return [0, 4, 8, 12].map((i) => d.slice(i, i + 4)).join(' ');
  }
}

/**
 * @param {string} linkKey base64url, 22 characters
 * @param {string} roomCode 9 characters of "abcdefghjkmnpqrstuvwxyz23456789"
 * @returns {Promise<RoomKeys>}
 */
export async function deriveRoomKeys(linkKey, roomCode) {
  return RoomKeys.fromSecret(await roomSecret(linkKey, roomCode));
}

/**
 * The 16-digit code participants compare aloud to check they hold the same key.
 * @param {string} linkKey
 * @param {string} roomCode
 * @returns {Promise<string>} "dddd dddd dddd dddd"
 */
export async function safetyCode(linkKey, roomCode) {
  return (await deriveRoomKeys(linkKey, roomCode)).safetyCode();
}
