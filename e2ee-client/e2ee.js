// Main-thread entry point of the E2EE library. It owns one worker, derives
// keys, and attaches the worker to RTCRtpSenders/RTCRtpReceivers on whichever
// Encoded Transform API the browser has. No UI code here.
//
// Usage:
//   const e2ee = new E2EE();
//   const pc = new RTCPeerConnection({ ...config, ...e2ee.peerConnectionConfig() });
//   await e2ee.setKey(linkKey, roomCode);
//   e2ee.setSelf(myId, myJoinSalt);                 // after the server named us
//   e2ee.attachSender(pc.addTrack(track, stream), { source: 'camera', kind: 'video' });
//   e2ee.setPeer(senderId, joinSaltFromItsFreshProfile);
//   pc.ontrack = (ev) => {
//     const h = e2ee.attachReceiver(ev.receiver, { kind: ev.track.kind });  // first, always
//     e2ee.bindReceiver(h, { senderId: ev.streams[0].id, source: 'camera' });
//   };
//   e2ee.onstate = (handle, state, reason) => ...;  // per track: 'ok' | 'failing' and why

import { deriveRoomKeys, checkSenderId, checkSource, checkSalt } from './keys.js';

/** @typedef {'script'|'streams'} TransformPath */
/** @typedef {import('./keys.js').Source} Source */
/** @typedef {import('./state.js').DropReason} DropReason */
/**
 * @typedef {object} SendOptions
 * @property {Source} source what the track carries; bound into its key
 * @property {'audio'|'video'} kind
 */
/**
 * @typedef {object} Binding
 * @property {string} senderId participant id of the media's sender (the msid stream id)
 * @property {string} source microphone, camera or screen, as the server announced it
 */
/**
 * @typedef {object} E2EEOptions
 * @property {string|URL} [workerUrl] URL of worker.js; defaults to the copy next to this module
 * @property {'auto'|TransformPath} [path] 'auto' prefers RTCRtpScriptTransform
 */
/** @typedef {{readable: ReadableStream, writable: WritableStream}} EncodedStreams */
/** @typedef {{createEncodedStreams?: () => EncodedStreams}} WithEncodedStreams */

export class E2EE {
  /**
   * Which Encoded Transform API this browser offers.
   * @returns {TransformPath|null}
   */
  static support() {
    if (typeof RTCRtpScriptTransform !== 'undefined') return 'script';
    if (typeof RTCRtpSender !== 'undefined' && 'createEncodedStreams' in RTCRtpSender.prototype) return 'streams';
    return null;
  }

  /** @param {E2EEOptions} [options] */
  constructor(options = {}) {
    const want = options.path || 'auto';
    const have = E2EE.support();
    /** @type {TransformPath} */
    let path;
    if (want === 'auto') {
      if (!have) throw new Error('e2ee: this browser cannot encrypt media end to end; use a current Chrome, Edge, Firefox or Safari');
      path = have;
    } else if (want === 'script' && typeof RTCRtpScriptTransform === 'undefined') {
      throw new Error('e2ee: RTCRtpScriptTransform is not available in this browser');
    } else if (want === 'streams' && !('createEncodedStreams' in RTCRtpSender.prototype)) {
      throw new Error('e2ee: createEncodedStreams is not available in this browser');
    } else if (want !== 'script' && want !== 'streams') {
      throw new TypeError('e2ee: path must be auto, script or streams');
    } else {
      path = want;
    }
    /** @readonly */
    this.path = path;
    /** @type {((handle: number, state: 'ok'|'failing', reason: DropReason|'') => void)|null} per receiver */
    this.onstate = null;
    /** @type {((message: string) => void)|null} called when the worker reports an error */
    this.onerror = null;
    /** @type {import('./keys.js').RoomKeys|null} keys of the last setKey, for sealing chat and names */
    this.keys = null;
    /** @type {Map<number, (err?: Error) => void>} */
    this._pending = new Map();
    this._seq = 0;
    this._handles = 0;
    /** @type {WeakMap<RTCRtpReceiver, number>} */
    this._receivers = new WeakMap();
    const url = options.workerUrl || new URL('./worker.js', import.meta.url);
    /** @private */
    this.worker = new Worker(url, { type: 'module', name: 'e2ee' });
    this.worker.onmessage = (ev) => this._onMessage(ev.data);
  }

  /**
   * Extra RTCConfiguration fields this path needs; spread them into the
   * configuration of every RTCPeerConnection that carries encrypted media.
   * @returns {RTCConfiguration}
   */
  peerConnectionConfig() {
    return this.path === 'streams' ? /** @type {RTCConfiguration} */ ({ encodedInsertableStreams: true }) : {};
  }

  /**
   * Derives the room keys and hands them to the worker. With send = true
   * (default) outgoing frames use this key index from now on; with send =
   * false the key is only accepted on receive, for a rotation announced
   * ahead (see docs/e2ee.md §6), and useSendKey switches later.
   * @param {string} linkKey
   * @param {string} roomCode
   * @param {number} [keyIndex] 0..254
   * @param {{send?: boolean}} [options]
   * @returns {Promise<void>} resolves when the worker holds the key
   */
  async setKey(linkKey, roomCode, keyIndex = 0, options = {}) {
    if (!Number.isInteger(keyIndex) || keyIndex < 0 || keyIndex > 254) throw new RangeError('e2ee: key index must be 0..254');
    const keys = await deriveRoomKeys(linkKey, roomCode);
    const send = options.send !== false;
    const seq = ++this._seq;
    const done = new Promise((resolve, reject) => this._pending.set(seq, (err) => (err ? reject(err) : resolve(undefined))));
    this.worker.postMessage({ type: 'key', keyIndex, secret: keys.secret, send, seq });
    if (send) this.keys = keys;
    await done;
  }

  /** @param {number} keyIndex a key index given to setKey before */
  useSendKey(keyIndex) {
    this.worker.postMessage({ type: 'send-index', keyIndex });
  }

  /**
   * Our participant id and join salt, which our frame keys are derived from.
   * Call once the server has named us, before media flows.
   * @param {string} senderId
   * @param {Uint8Array} salt 16 bytes, drawn fresh for every join
   */
  setSelf(senderId, salt) {
    checkSenderId(senderId);
    checkSalt(salt);
    this.worker.postMessage({ type: 'self', senderId, salt });
  }

  /**
   * The join salt a sender's media is accepted under (from its fresh
   * sealed profile), or null to accept none of its media.
   * @param {string} senderId
   * @param {Uint8Array|null} salt
   */
  setPeer(senderId, salt) {
    checkSenderId(senderId);
    if (salt) checkSalt(salt);
    this.worker.postMessage({ type: 'peer', senderId, salt });
  }

  /**
   * Encrypts everything this sender sends. Call right after addTrack /
   * addTransceiver, before negotiation.
   * @param {RTCRtpSender} sender
   * @param {SendOptions} opts
   */
  attachSender(sender, opts) {
    checkSource(opts.source);
    this._attach(sender, { side: 'send', source: opts.source, kind: checkKind(opts.kind) });
  }

  /**
   * Puts a receiver behind the worker, which drops every frame until
   * bindReceiver says whose media it carries. Call first thing in
   * ontrack, whatever the server announced; a receiver attached before
   * returns its handle again. Throws if the browser refuses the transform:
   * the track must then not be shown.
   * @param {RTCRtpReceiver} receiver
   * @param {{kind: string}} opts
   * @returns {number} the handle onstate and bindReceiver use
   */
  attachReceiver(receiver, opts) {
    const known = this._receivers.get(receiver);
    if (known !== undefined) return known;
    const handle = ++this._handles;
    this._attach(receiver, { side: 'recv', handle, kind: checkKind(opts.kind) });
    this._receivers.set(receiver, handle);
    return handle;
  }

  /**
   * Says whose media, from which source, a receiver carries. A binding
   * with an invalid sender id or source (anything the server announced
   * that the format cannot name) binds the receiver to nothing, so all of
   * its frames are dropped as "invalid", and returns false.
   * @param {number} handle
   * @param {Binding|null} b
   * @returns {boolean}
   */
  bindReceiver(handle, b) {
    let ok = !!b;
    try {
      if (b) {
        checkSenderId(b.senderId);
        checkSource(b.source);
      }
    } catch {
      ok = false;
    }
    this.worker.postMessage(ok && b ? { type: 'bind', handle, senderId: b.senderId, source: b.source } : { type: 'bind', handle, senderId: null, source: null });
    return ok;
  }

  /**
   * Stops accepting media of a sender who left.
   * @param {string} senderId
   */
  forget(senderId) {
    this.worker.postMessage({ type: 'forget', senderId });
  }

  /** Stops the worker; attached senders then stop sending media. */
  close() {
    this.worker.terminate();
    for (const settle of this._pending.values()) settle(new Error('e2ee: closed'));
    this._pending.clear();
  }

  /**
   * @private
   * @param {RTCRtpSender|RTCRtpReceiver} target
   * @param {Record<string, unknown>} options
   */
  _attach(target, options) {
    if (this.path === 'script') {
      target.transform = new RTCRtpScriptTransform(this.worker, options);
      return;
    }
    const t = /** @type {WithEncodedStreams} */ (/** @type {unknown} */ (target));
    if (!t.createEncodedStreams) throw new Error('e2ee: createEncodedStreams is not available');
    const { readable, writable } = t.createEncodedStreams();
    this.worker.postMessage({ type: 'stream', ...options, readable, writable }, [readable, writable]);
  }

  /**
   * @private
   * @param {{type: string, seq?: number, handle?: number, state?: 'ok'|'failing', reason?: DropReason|'', message?: string}} m
   */
  _onMessage(m) {
    const settle = m.seq !== undefined ? this._pending.get(m.seq) : undefined;
    if (settle && m.seq !== undefined && (m.type === 'key-ready' || m.type === 'error')) {
      this._pending.delete(m.seq);
      settle(m.type === 'error' ? new Error(m.message || 'e2ee: worker error') : undefined);
      return;
    }
    if (m.type === 'state' && m.handle !== undefined && m.state) {
      if (this.onstate) this.onstate(m.handle, m.state, m.reason || '');
    } else if (m.type === 'error' && m.message) {
      if (this.onerror) this.onerror(m.message);
    }
  }
}

/**
 * @param {string} kind
 * @returns {'audio'|'video'}
 */
function checkKind(kind) {
  if (kind !== 'audio' && kind !== 'video') throw new TypeError('e2ee: kind must be audio or video');
  return kind;
}

export { deriveRoomKeys, safetyCode, newLinkKey, newJoinSalt, RoomKeys } from './keys.js';
export { seal, open } from './message.js';
export { PeerRegistry, PROFILE_REFRESH_MS, PROFILE_MAX_AGE_MS } from './peers.js';
