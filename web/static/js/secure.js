// The one place the web client meets the E2EE library (e2ee-client/, served
// under /e2ee/). Modules are loaded with dynamic import: the landing page
// works before they load, and a missing or broken library becomes a clear
// message instead of a blank page.
//
// Names and chat are "sealed": encrypted with the room's message key in
// encrypted rooms, plain JSON in rooms created without encryption.

/** URL prefix the server mounts e2ee-client at. */
export const E2EE_BASE = '/e2ee/';

/** @typedef {import('./link.js').E2EEPath} E2EEPath */
/** @typedef {typeof import('../../../e2ee-client/keys.js')} KeysModule */

/** @typedef {typeof import('../../../e2ee-client/e2ee.js')} E2EEModule */

/**
 * Seals and opens display names and chat text.
 * @typedef {object} Sealer
 * @property {(text: string) => Promise<string>} seal
 * @property {(sealed: string) => Promise<string>} open throws when the text cannot be decrypted
 */

/**
 * Everything an encrypted (or explicitly unencrypted) room needs.
 * @typedef {object} RoomSecurity
 * @property {boolean} e2ee
 * @property {Sealer} sealer
 * @property {import('./session.js').MediaTransforms|null} transforms
 * @property {string} safetyCode '' in rooms without encryption
 * @property {string} path the Encoded Transform API in use ('' without encryption)
 * @property {(fn: (senderId: string, state: string) => void) => void} onDecryptState
 * @property {() => void} close
 */

/** A user-facing problem with encryption; the message says what to do. */
export class SecurityError extends Error {
  /**
   * @param {string} code "unsupported", "no-key", "bad-key" or "library"
   * @param {string} message
   */
  constructor(code, message) {
    super(message);
    this.name = 'SecurityError';
    this.code = code;
  }
}

/**
 * @param {string} file
 * @returns {Promise<any>}
 */
async function load(file) {
  try {
    return await import(E2EE_BASE + file);
  } catch (err) {
    console.error('meet: loading', file, 'failed:', err);
    throw new SecurityError('library', 'The encryption library could not be loaded. Reload the page to try again.');
  }
}

/**
 * A fresh 128-bit link key, base64url. Uses the E2EE library's generator so
 * there is one definition of a key; falls back to the same construction
 * if the library cannot be loaded (the landing page must still work).
 * @returns {Promise<string>}
 */
export async function newLinkKey() {
  try {
    const keys = /** @type {KeysModule} */ (await load('keys.js'));
    return keys.newLinkKey();
  } catch {
    const b = new Uint8Array(16);
    crypto.getRandomValues(b);
    let s = '';
    for (const x of b) s += String.fromCharCode(x);
    return btoa(s).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
  }
}

/**
 * Which Encoded Transform API the browser offers for a requested path, or
 * null when it cannot encrypt media.
 * @param {E2EEPath} path
 * @returns {Promise<string|null>}
 */
export async function mediaEncryptionSupport(path) {
  const { E2EE } = /** @type {E2EEModule} */ (await load('e2ee.js'));
  if (path === 'auto') return E2EE.support();
  if (path === 'script') return typeof RTCRtpScriptTransform === 'function' ? 'script' : null;
  // The "streams" path is Chrome's RTCRtpSender.createEncodedStreams.
  return 'createEncodedStreams' in RTCRtpSender.prototype ? 'streams' : null;
}

/** @returns {Sealer} */
export function plainSealer() {
  return {
    seal: async (text) => text,
    open: async (text) => text,
  };
}

/**
 * Sets up the room's security: key derivation, media transforms, sealing.
 * @param {{code: string, e2ee: boolean, key: string, path: E2EEPath}} o
 * @returns {Promise<RoomSecurity>}
 */
export async function roomSecurity(o) {
  if (!o.e2ee) {
    return { e2ee: false, sealer: plainSealer(), transforms: null, safetyCode: '', path: '', onDecryptState: () => {}, close: () => {} };
  }
  if (!o.key) {
    throw new SecurityError('no-key', 'This meeting is end-to-end encrypted, but the link has no key. Ask for the full invite link: it ends with "#" and the key.');
  }
  const path = await mediaEncryptionSupport(o.path);
  if (!path) {
    throw new SecurityError('unsupported',
      'This browser cannot encrypt video end to end, so it cannot join this encrypted meeting. ' +
      'Use a current Chrome, Edge, Firefox (117 or later) or Safari (15.4 or later).');
  }
  const mod = /** @type {E2EEModule} */ (await load('e2ee.js'));
  const e2ee = new mod.E2EE({ workerUrl: E2EE_BASE + 'worker.js', path: o.path });
  try {
    await e2ee.setKey(o.key, o.code);
  } catch (err) {
    e2ee.close();
    throw new SecurityError('bad-key', 'The key in this link is not valid (' + String(err && /** @type {Error} */ (err).message) + '). Ask for the invite link again.');
  }
  const roomKeys = e2ee.keys;
  if (!roomKeys) throw new SecurityError('library', 'The encryption library did not keep the room keys. Reload the page to try again.');
  /** @type {Array<(senderId: string, state: string) => void>} */
  const listeners = [];
  e2ee.onstate = (senderId, state) => {
    for (const fn of listeners) fn(senderId, state);
  };
  return {
    e2ee: true,
    sealer: {
      seal: (text) => mod.seal(roomKeys, text),
      open: (sealed) => mod.open(roomKeys, sealed),
    },
    transforms: {
      peerConnectionConfig: () => e2ee.peerConnectionConfig(),
      attachSender: (s, a) => e2ee.attachSender(s, { senderId: a.senderId, kind: mediaKind(a.kind) }),
      attachReceiver: (r, a) => e2ee.attachReceiver(r, { senderId: a.senderId, kind: mediaKind(a.kind) }),
    },
    safetyCode: await roomKeys.safetyCode(),
    path: e2ee.path,
    onDecryptState: (fn) => listeners.push(fn),
    close: () => e2ee.close(),
  };
}

/**
 * @param {string} kind
 * @returns {'audio'|'video'}
 */
function mediaKind(kind) {
  if (kind !== 'audio' && kind !== 'video') throw new TypeError('meet: track kind must be audio or video, not ' + kind);
  return kind;
}
