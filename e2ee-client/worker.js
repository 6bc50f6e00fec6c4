// The E2EE worker: one dedicated worker serves both browser paths.
//
//  - RTCRtpScriptTransform (W3C, Firefox, Safari, Chrome 141+): the browser
//    fires `rtctransform` here with the options given at construction.
//  - createEncodedStreams (Chrome's older insertable streams): the main thread
//    posts {type: 'stream', readable, writable, ...} with the streams transferred.
//
// Keys arrive as {type: 'key', keyIndex, secret, send} where secret is the
// room secret as a non-extractable HKDF CryptoKey. Frames are never sent
// unencrypted: with no key or an unsupported codec, outgoing frames are dropped.
// Incoming frames that fail authentication are dropped (audio: replaced by an
// Opus silence frame) and never reach a decoder.

import { RoomKeys } from './keys.js';
import { INJECTED_ALLOWED, codecFromMime, decryptFrame, encryptFrame, FrameError } from './frame.js';
import { IVSequence } from './iv.js';
import { DecryptStateTracker } from './state.js';

/** @typedef {import('./frame.js').Codec} Codec */
/** @typedef {RTCEncodedVideoFrame|RTCEncodedAudioFrame} EncodedFrame */
/**
 * @typedef {object} TransformOptions
 * @property {'send'|'recv'} side
 * @property {string} senderId participant id of the frames' sender
 * @property {'audio'|'video'} kind
 */

const scope = /** @type {DedicatedWorkerGlobalScope} */ (/** @type {unknown} */ (globalThis));

/** Keys of the room by key index; a few are kept so rotation loses no frames. */
/** @type {Map<number, RoomKeys>} */
const keys = new Map();
const MAX_KEYS = 4;
/** @type {number|null} */
let sendIndex = null;
const tracker = new DecryptStateTracker();
/** Frames dropped, by reason; posted with each state change for diagnostics. */
/** @type {Record<string, number>} */
const drops = {};
const OPUS_SILENCE = INJECTED_ALLOWED.opus[0];

/**
 * @param {EncodedFrame} frame
 * @param {'audio'|'video'} kind
 * @returns {Codec|null}
 */
function codecOf(frame, kind) {
  const meta = /** @type {{mimeType?: string}} */ (frame.getMetadata());
  if (meta.mimeType) return codecFromMime(meta.mimeType);
  if (kind === 'audio') return 'opus';
  // No mimeType (older browsers): an Annex B start code means H.264; a VP8
  // frame tag never starts with 00 00 01 (it would be a hidden, empty frame).
  const d = new Uint8Array(frame.data, 0, Math.min(4, frame.data.byteLength));
  if (d.length >= 3 && d[0] === 0 && d[1] === 0 && (d[2] === 1 || (d[2] === 0 && d[3] === 1))) return 'h264';
  return 'vp8';
}

/** @param {string} reason */
function countDrop(reason) {
  drops[reason] = (drops[reason] || 0) + 1;
}

/**
 * @param {TransformOptions} opts
 * @returns {TransformStream<EncodedFrame, EncodedFrame>}
 */
function senderTransform(opts) {
  const ivs = new IVSequence();
  return new TransformStream({
    async transform(frame, controller) {
      const idx = sendIndex;
      const rk = idx === null ? undefined : keys.get(idx);
      const codec = codecOf(frame, opts.kind);
      if (!rk || idx === null || !codec) {
        countDrop(!rk ? 'send-no-key' : 'send-codec');
        return;
      }
      const key = await rk.frameKey(opts.senderId);
      const keyFrame = /** @type {RTCEncodedVideoFrame} */ (frame).type === 'key';
      frame.data = await encryptFrame(key, codec, keyFrame, ivs.next(), idx, frame.data);
      controller.enqueue(frame);
    },
  });
}

/**
 * @param {TransformOptions} opts
 * @returns {TransformStream<EncodedFrame, EncodedFrame>}
 */
function receiverTransform(opts) {
  /** @param {number} i */
  const keyFor = (i) => keys.get(i)?.frameKey(opts.senderId);
  return new TransformStream({
    async transform(frame, controller) {
      const codec = codecOf(frame, opts.kind);
      let ok = false;
      try {
        if (!codec) throw new FrameError('codec', 'unsupported codec');
        frame.data = await decryptFrame(keyFor, codec, frame.data);
        ok = true;
        controller.enqueue(frame);
      } catch (e) {
        countDrop(e instanceof FrameError ? e.reason : 'error');
        if (opts.kind === 'audio' && codec === 'opus') {
          frame.data = OPUS_SILENCE.slice().buffer;
          controller.enqueue(frame);
        }
      }
      const st = tracker.record(opts.senderId, ok, performance.now());
      if (st) scope.postMessage({ type: 'state', senderId: opts.senderId, state: st, drops: { ...drops } });
    },
  });
}

/**
 * @param {ReadableStream<EncodedFrame>} readable
 * @param {WritableStream<EncodedFrame>} writable
 * @param {TransformOptions} opts
 */
function run(readable, writable, opts) {
  const t = opts.side === 'send' ? senderTransform(opts) : receiverTransform(opts);
  readable
    .pipeThrough(t)
    .pipeTo(writable)
    .catch((/** @type {unknown} */ e) => scope.postMessage({ type: 'error', message: String(e) }));
}

/** @param {unknown} o */
function checkOptions(o) {
  const opts = /** @type {TransformOptions} */ (o);
  if (!opts || (opts.side !== 'send' && opts.side !== 'recv') || typeof opts.senderId !== 'string') {
    throw new TypeError('e2ee worker: bad transform options');
  }
  return opts;
}

scope.onrtctransform = (/** @type {RTCTransformEvent} */ event) => {
  const t = event.transformer;
  run(t.readable, t.writable, checkOptions(t.options));
};

scope.onmessage = async (/** @type {MessageEvent} */ event) => {
  const m = event.data;
  try {
    switch (m && m.type) {
      case 'key': {
        const rk = await RoomKeys.fromSecret(m.secret);
        keys.delete(m.keyIndex);
        keys.set(m.keyIndex, rk);
        while (keys.size > MAX_KEYS) keys.delete(/** @type {number} */ (keys.keys().next().value));
        if (m.send) sendIndex = m.keyIndex;
        scope.postMessage({ type: 'key-ready', keyIndex: m.keyIndex, seq: m.seq });
        break;
      }
      case 'send-index':
        if (keys.has(m.keyIndex)) sendIndex = m.keyIndex;
        break;
      case 'stream':
        run(m.readable, m.writable, checkOptions(m));
        break;
      case 'forget':
        tracker.forget(m.senderId);
        break;
      default:
        throw new TypeError('e2ee worker: unknown message');
    }
  } catch (e) {
    scope.postMessage({ type: 'error', message: String(e), seq: m && m.seq });
  }
};
