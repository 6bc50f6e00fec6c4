// The E2EE worker: one dedicated worker serves both browser paths.
//
//  - RTCRtpScriptTransform (W3C, Firefox, Safari, Chrome 141+): the browser
//    fires `rtctransform` here with the options given at construction.
//  - createEncodedStreams (Chrome's older insertable streams): the main thread
//    posts {type: 'stream', readable, writable, ...} with the streams transferred.
//
// Keys arrive as {type: 'key', keyIndex, secret, send} where secret is the
// room secret as a non-extractable HKDF CryptoKey; our own id and join salt
// as {type: 'self'}; each sender's join salt (from its fresh sealed profile)
// as {type: 'peer'}; what a receiver carries as {type: 'bind'}.
//
// Fail closed: frames are never sent unencrypted (no key, no identity or an
// unsupported codec: dropped), and a received frame reaches the decoder only
// if it authenticates under the key of the sender, source and join its
// receiver is bound to, and was not seen before. Everything else is dropped
// (audio: replaced by a local Opus silence frame) and counted by reason.

import { RoomKeys } from './keys.js';
import { OPUS_SILENCE, codecFromMime, decryptFrame, encryptFrame, isKeyFrame, FrameError } from './frame.js';
import { IVSequence } from './iv.js';
import { ReplayWindow } from './replay.js';
import { DecryptStateTracker } from './state.js';
import { encode } from './b64.js';
import { SealedHistory, openRED, redSilence, sealRED } from './red.js';

/** @typedef {import('./frame.js').Codec} Codec */
/** @typedef {import('./keys.js').Source} Source */
/** @typedef {import('./state.js').DropReason} DropReason */
/** @typedef {RTCEncodedVideoFrame|RTCEncodedAudioFrame} EncodedFrame */
/**
 * @typedef {object} TransformOptions
 * @property {'send'|'recv'} side
 * @property {'audio'|'video'} kind
 * @property {Source} [source] senders: what the track carries
 * @property {number} [handle] receivers: the id bind messages name
 */
/**
 * @typedef {object} Receiver
 * @property {{senderId: string, source: Source}|null} binding null: drop everything
 * @property {boolean} needKey video: drop until an authentic key frame
 */

const scope = /** @type {DedicatedWorkerGlobalScope} */ (/** @type {unknown} */ (globalThis));

/** Keys of the room by key index; a few are kept so rotation loses no frames. */
/** @type {Map<number, RoomKeys>} */
const keys = new Map();
const MAX_KEYS = 4;
/** @type {number|null} */
let sendIndex = null;
/** @type {{senderId: string, salt: Uint8Array}|null} */
let self = null;
/** Join salts of senders with a fresh profile. */
/** @type {Map<string, Uint8Array>} */
const salts = new Map();
/** @type {Map<number, Receiver>} */
const receivers = new Map();
/** Replay windows by frame key; bounded, ids come from the network. */
/** @type {Map<string, ReplayWindow>} */
const windows = new Map();
const tracker = new DecryptStateTracker();
/** Frames dropped, by reason; posted with each state change for diagnostics. */
/** @type {Record<string, number>} */
const drops = {};

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

/**
 * Whether an audio frame is Opus RED (RFC 2198), sealed block by block.
 * @param {EncodedFrame} frame
 */
function isRED(frame) {
  const meta = /** @type {{mimeType?: string}} */ (frame.getMetadata());
  return (meta.mimeType || '').toLowerCase() === 'audio/red';
}

/** @param {string} reason */
function countDrop(reason) {
  drops[reason] = (drops[reason] || 0) + 1;
}

/**
 * @param {string} senderId
 * @param {Source} source
 * @param {Uint8Array} salt
 * @param {number} keyIndex
 * @returns {ReplayWindow}
 */
function windowFor(senderId, source, salt, keyIndex) {
  const id = senderId + '/' + source + '/' + encode(salt) + '/' + keyIndex;
  let w = windows.get(id);
  if (!w) {
    if (windows.size >= 4096) windows.clear();
    w = new ReplayWindow();
    windows.set(id, w);
  }
  return w;
}

/**
 * @param {TransformOptions} opts
 * @returns {TransformStream<EncodedFrame, EncodedFrame>}
 */
function senderTransform(opts) {
  const ivs = new IVSequence();
  const source = /** @type {Source} */ (opts.source);
  const sealed = new SealedHistory();
  return new TransformStream({
    async transform(frame, controller) {
      const idx = sendIndex;
      const rk = idx === null ? undefined : keys.get(idx);
      const red = opts.kind === 'audio' && isRED(frame);
      const codec = red ? 'opus' : codecOf(frame, opts.kind);
      const me = self;
      if (!rk || idx === null || !codec || !me) {
        countDrop(!rk ? 'send-no-key' : !me ? 'send-no-identity' : 'send-codec');
        return;
      }
      const key = await rk.frameKey(me.senderId, source, me.salt);
      if (red) {
        const seal = async (/** @type {Uint8Array} */ b) =>
          new Uint8Array(await encryptFrame(key, 'opus', false, ivs.next(), idx, b.slice().buffer));
        const out = await sealRED(new Uint8Array(frame.data), seal, sealed);
        if (!out) {
          countDrop('send-malformed');
          return;
        }
        frame.data = /** @type {ArrayBuffer} */ (out.buffer);
      } else {
        const keyFrame = /** @type {RTCEncodedVideoFrame} */ (frame).type === 'key';
        frame.data = await encryptFrame(key, codec, keyFrame, ivs.next(), idx, frame.data);
      }
      controller.enqueue(frame);
    },
  });
}

/**
 * Decrypts one frame for receiver r, or throws why it must be dropped.
 * @param {Receiver|undefined} r
 * @param {Codec|null} codec
 * @param {ArrayBuffer} data
 * @returns {Promise<ArrayBuffer>}
 */
async function openFrame(r, codec, data) {
  const b = r && r.binding;
  if (!b) throw new FrameError('invalid', 'e2ee: track refused');
  if (!codec) throw new FrameError('codec', 'e2ee: unsupported codec');
  const salt = salts.get(b.senderId);
  if (!salt) throw new FrameError('unverified', 'e2ee: no fresh profile of the sender');
  return decryptFrame(
    (i) => keys.get(i)?.frameKey(b.senderId, b.source, salt),
    codec,
    data,
    (i, iv) => windowFor(b.senderId, b.source, salt, i).fresh(iv),
  );
}

/**
 * Opens a RED packet for receiver r: its primary block must open, older
 * blocks that do not are left out (a replay is the usual case: the packet
 * that first carried the block arrived).
 * @param {Receiver|undefined} r
 * @param {ArrayBuffer} data
 * @returns {Promise<ArrayBuffer>}
 */
async function openREDFrame(r, data) {
  const open = async (/** @type {Uint8Array} */ b) => new Uint8Array(await openFrame(r, 'opus', b.slice().buffer));
  const { data: plain, refused } = await openRED(new Uint8Array(data), open);
  for (const e of refused) {
    if (!(e instanceof FrameError) || e.reason !== 'replay') countDrop('red-block');
  }
  return /** @type {ArrayBuffer} */ (plain.buffer);
}

/**
 * @param {TransformOptions} opts
 * @returns {TransformStream<EncodedFrame, EncodedFrame>}
 */
function receiverTransform(opts) {
  const handle = /** @type {number} */ (opts.handle);
  if (!receivers.has(handle)) receivers.set(handle, { binding: null, needKey: true });
  return new TransformStream({
    async transform(frame, controller) {
      const r = receivers.get(handle);
      const red = opts.kind === 'audio' && isRED(frame);
      const codec = red ? 'opus' : codecOf(frame, opts.kind);
      let ok = false;
      /** @type {DropReason|''} */
      let reason = '';
      try {
        const data = red ? await openREDFrame(r, frame.data) : await openFrame(r, codec, frame.data);
        if (opts.kind === 'video' && r && r.needKey) {
          // Authentic, but the decoder may hold pictures from before the
          // transform was attached or the receiver re-bound: wait for a
          // picture that stands alone. Not a failure of the sender.
          if (!codec || !isKeyFrame(codec, data)) return;
          r.needKey = false;
        }
        frame.data = data;
        ok = true;
        controller.enqueue(frame);
      } catch (e) {
        reason = e instanceof FrameError ? e.reason : 'error';
        countDrop(reason);
        const silence = !red ? OPUS_SILENCE.slice() : redSilence(new Uint8Array(frame.data), OPUS_SILENCE);
        if (opts.kind === 'audio' && codec === 'opus' && silence) {
          frame.data = /** @type {ArrayBuffer} */ (silence.buffer);
          controller.enqueue(frame);
        }
      }
      const st = tracker.record(handle, ok, reason, performance.now());
      if (st) scope.postMessage({ type: 'state', handle, state: st.state, reason: st.reason, drops: { ...drops } });
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

const SOURCES = ['microphone', 'camera', 'screen'];

/** @param {unknown} o */
function checkOptions(o) {
  const opts = /** @type {TransformOptions} */ (o);
  const ok = opts && (opts.kind === 'audio' || opts.kind === 'video') &&
    ((opts.side === 'send' && SOURCES.includes(String(opts.source))) || (opts.side === 'recv' && Number.isInteger(opts.handle)));
  if (!ok) throw new TypeError('e2ee worker: bad transform options');
  return opts;
}

scope.onrtctransform = (/** @type {RTCTransformEvent} */ event) => {
  const t = event.transformer;
  run(t.readable, t.writable, checkOptions(t.options));
};

/** @param {any} m */
async function handle(m) {
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
    case 'self':
      self = { senderId: String(m.senderId), salt: m.salt };
      break;
    case 'peer':
      if (m.salt) salts.set(String(m.senderId), m.salt);
      else salts.delete(String(m.senderId));
      break;
    case 'bind': {
      const r = receivers.get(m.handle) || { binding: null, needKey: true };
      r.binding = m.senderId && m.source ? { senderId: String(m.senderId), source: m.source } : null;
      r.needKey = true;
      receivers.set(m.handle, r);
      tracker.forget(m.handle);
      break;
    }
    case 'stream':
      run(m.readable, m.writable, checkOptions(m));
      break;
    case 'forget':
      salts.delete(String(m.senderId));
      break;
    default:
      throw new TypeError('e2ee worker: unknown message');
  }
}

scope.onmessage = async (/** @type {MessageEvent} */ event) => {
  const m = event.data;
  try {
    await handle(m);
  } catch (e) {
    scope.postMessage({ type: 'error', message: String(e), seq: m && m.seq });
  }
};
