// Main-thread entry point of the E2EE library. It owns one worker, derives
// keys, and attaches the worker to RTCRtpSenders/RTCRtpReceivers on whichever
// Encoded Transform API the browser has. No UI code here.
//
// Usage:
//   const e2ee = new E2EE();
//   const pc = new RTCPeerConnection({ ...config, ...e2ee.peerConnectionConfig() });
//   await e2ee.setKey(linkKey, roomCode);
//   e2ee.attachSender(pc.addTrack(track, stream), { senderId: myId, kind: track.kind });
//   pc.ontrack = (ev) => e2ee.attachReceiver(ev.receiver, { senderId: ev.streams[0].id, kind: ev.track.kind });
//   e2ee.onstate = (senderId, state) => ...;   // 'ok' | 'failing'

import { deriveRoomKeys, checkSenderId } from './keys.js';

/** @typedef {'script'|'streams'} TransformPath */
/**
 * @typedef {object} AttachOptions
 * @property {string} senderId participant id of the media's sender (for a receiver: the msid stream id)
 * @property {'audio'|'video'} kind
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
    /** @type {((senderId: string, state: 'ok'|'failing') => void)|null} */
    this.onstate = null;
    /** @type {((message: string) => void)|null} called when the worker reports an error */
    this.onerror = null;
    /** @type {import('./keys.js').RoomKeys|null} keys of the last setKey, for sealing chat and names */
    this.keys = null;
    /** @type {Map<number, (err?: Error) => void>} */
    this._pending = new Map();
    this._seq = 0;
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
   * Encrypts everything this sender sends. Call right after addTrack /
   * addTransceiver, before negotiation.
   * @param {RTCRtpSender} sender
   * @param {AttachOptions} opts
   */
  attachSender(sender, opts) {
    this._attach(sender, 'send', opts);
  }

  /**
   * Decrypts everything this receiver receives; call from ontrack.
   * @param {RTCRtpReceiver} receiver
   * @param {AttachOptions} opts
   */
  attachReceiver(receiver, opts) {
    this._attach(receiver, 'recv', opts);
  }

  /**
   * Stops reporting state for a sender who left.
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
   * @param {'send'|'recv'} side
   * @param {AttachOptions} opts
   */
  _attach(target, side, opts) {
    checkSenderId(opts.senderId);
    if (opts.kind !== 'audio' && opts.kind !== 'video') throw new TypeError('e2ee: kind must be audio or video');
    const options = { side, senderId: opts.senderId, kind: opts.kind };
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
   * @param {{type: string, seq?: number, senderId?: string, state?: 'ok'|'failing', message?: string}} m
   */
  _onMessage(m) {
    const settle = m.seq !== undefined ? this._pending.get(m.seq) : undefined;
    if (settle && m.seq !== undefined && (m.type === 'key-ready' || m.type === 'error')) {
      this._pending.delete(m.seq);
      settle(m.type === 'error' ? new Error(m.message || 'e2ee: worker error') : undefined);
      return;
    }
    if (m.type === 'state' && m.senderId && m.state) {
      if (this.onstate) this.onstate(m.senderId, m.state);
    } else if (m.type === 'error' && m.message) {
      if (this.onerror) this.onerror(m.message);
    }
  }
}

export { deriveRoomKeys, safetyCode, newLinkKey, RoomKeys } from './keys.js';
export { seal, open } from './message.js';
