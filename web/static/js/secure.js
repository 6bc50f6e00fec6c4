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
 * Why a received profile or chat message was not shown: '' (shown),
 * "unreadable" (does not open: another key, or moved to another sender or
 * kind by the server), "stale" (a profile whose time is far from ours: a
 * recording), "replay" (seen before, or older than one seen), "unknown-sender"
 * (chat from a join whose profile we do not hold).
 * @typedef {''|'unreadable'|'stale'|'replay'|'unknown-sender'} Refusal
 */

/**
 * @typedef {object} MediaTransforms
 * @property {() => RTCConfiguration} peerConnectionConfig extra settings both connections are created with
 * @property {(sender: RTCRtpSender, o: {source: string, kind: string}) => void} attachSender
 * @property {(receiver: RTCRtpReceiver, o: {kind: string}) => number} attachReceiver first thing for every receiver; throws if it cannot be protected
 * @property {(handle: number, b: {senderId: string, source: string}|null) => boolean} bindReceiver false: refused, its frames are dropped
 */

/**
 * Everything an encrypted (or explicitly unencrypted) room needs.
 * @typedef {object} RoomSecurity
 * @property {boolean} e2ee
 * @property {MediaTransforms|null} transforms
 * @property {string} safetyCode '' in rooms without encryption
 * @property {string} path the Encoded Transform API in use ('' without encryption)
 * @property {(selfId: string) => void} startJoin a new join: fresh join salt, counters from 0
 * @property {(name: string) => Promise<string>} sealProfile
 * @property {(text: string) => Promise<string>} sealChat
 * @property {(from: string, sealed: string) => Promise<{name: string, why: Refusal}>} receiveProfile
 * @property {(from: string, sealed: string) => Promise<{text: string, why: Refusal}>} receiveChat
 * @property {() => void} expirePeers stops accepting media of senders whose profile went stale
 * @property {(id: string) => void} forget
 * @property {(fn: (handle: number, state: string, reason: string) => void) => void} onDecryptState
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

/**
 * @param {string} text
 * @param {string} field
 * @returns {string|null} the string field of a JSON object, or null
 */
function field(text, field) {
  try {
    const v = JSON.parse(text);
    return v && typeof v[field] === 'string' ? v[field] : null;
  } catch {
    return null;
  }
}

/** @returns {RoomSecurity} names and chat in clear JSON, no media transforms */
export function plainSecurity() {
  return {
    e2ee: false, transforms: null, safetyCode: '', path: '',
    startJoin: () => {},
    sealProfile: async (name) => JSON.stringify({ name }),
    sealChat: async (text) => JSON.stringify({ text }),
    receiveProfile: async (_from, s) => {
      const name = field(s, 'name');
      return name === null ? { name: '', why: 'unreadable' } : { name, why: '' };
    },
    receiveChat: async (_from, s) => {
      const text = field(s, 'text');
      return text === null ? { text: '', why: 'unreadable' } : { text, why: '' };
    },
    expirePeers: () => {}, forget: () => {}, onDecryptState: () => {}, close: () => {},
  };
}

/**
 * Sets up the room's security: key derivation, media transforms, sealing
 * bound to our id and join (docs/e2ee.md §5), and the freshness and replay
 * checks of what others send (§5.1).
 * @param {{code: string, e2ee: boolean, key: string, path: E2EEPath}} o
 * @returns {Promise<RoomSecurity>}
 */
export async function roomSecurity(o) {
  if (!o.e2ee) return plainSecurity();
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
  /** @type {Array<(handle: number, state: string, reason: string) => void>} */
  const listeners = [];
  e2ee.onstate = (handle, state, reason) => {
    for (const fn of listeners) fn(handle, state, reason);
  };
  const peers = new mod.PeerRegistry();
  /** Our side of the current join. */
  let me = { senderId: '', salt: mod.newJoinSalt(), counter: 0 };
  /** Senders whose media the worker accepts now. */
  const accepted = new Set();
  /**
   * @param {'profile'|'chat'} kind
   * @param {string} text
   */
  const sealAs = (kind, text) => {
    if (!me.senderId) return Promise.reject(new Error('meet: sealing before joining'));
    return mod.seal(roomKeys, { senderId: me.senderId, salt: me.salt, kind, counter: me.counter++ }, text);
  };
  /**
   * @param {string} from
   * @param {'profile'|'chat'} kind
   * @param {string} sealed
   */
  const openAs = async (from, kind, sealed) => {
    try {
      return await mod.open(roomKeys, { from, kind }, sealed);
    } catch {
      return null;
    }
  };
  return {
    e2ee: true,
    transforms: {
      peerConnectionConfig: () => e2ee.peerConnectionConfig(),
      attachSender: (s, a) => e2ee.attachSender(s, { source: /** @type {any} */ (a.source), kind: mediaKind(a.kind) }),
      attachReceiver: (r, a) => e2ee.attachReceiver(r, { kind: a.kind }),
      bindReceiver: (h, b) => e2ee.bindReceiver(h, b),
    },
    safetyCode: await roomKeys.safetyCode(),
    path: e2ee.path,
    startJoin: (selfId) => {
      me = { senderId: selfId, salt: mod.newJoinSalt(), counter: 0 };
      e2ee.setSelf(selfId, me.salt);
    },
    sealProfile: (name) => sealAs('profile', JSON.stringify({ name, ts: Date.now() })),
    sealChat: (text) => sealAs('chat', JSON.stringify({ text })),
    receiveProfile: async (from, sealed) => {
      const m = await openAs(from, 'profile', sealed);
      let ts = NaN;
      try {
        ts = m ? Number(JSON.parse(m.text).ts) : NaN;
      } catch {
        // not JSON: refused below as unreadable
      }
      const name = m ? field(m.text, 'name') : null;
      if (!m || name === null) return { name: '', why: 'unreadable' };
      const why = peers.acceptProfile(from, m, ts, Date.now());
      if (why) return { name: '', why: why === 'unknown-sender' ? 'unreadable' : why };
      e2ee.setPeer(from, peers.saltOf(from, Date.now()));
      accepted.add(from);
      return { name, why: '' };
    },
    receiveChat: async (from, sealed) => {
      const m = await openAs(from, 'chat', sealed);
      const text = m ? field(m.text, 'text') : null;
      if (!m || text === null) return { text: '', why: 'unreadable' };
      const why = peers.acceptChat(from, m);
      return why ? { text: '', why } : { text, why: '' };
    },
    expirePeers: () => {
      const now = Date.now();
      for (const id of [...accepted]) {
        if (peers.saltOf(id, now)) continue;
        accepted.delete(id);
        e2ee.setPeer(id, null);
      }
    },
    forget: (id) => {
      peers.forget(id);
      accepted.delete(id);
      e2ee.forget(id);
    },
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
