// Round trips, tamper detection and the helpers the worker relies on.
import { test } from 'node:test';
import assert from 'node:assert/strict';

import { deriveRoomKeys, newLinkKey, newJoinSalt, safetyCode } from '../keys.js';
import { decode } from '../b64.js';
import { encryptFrame, decryptFrame, FrameError, h264Clear, escapeH264, unescapeH264 } from '../frame.js';
import { seal, open } from '../message.js';
import { PeerRegistry, PROFILE_MAX_AGE_MS, PROFILE_MAX_SKEW_MS } from '../peers.js';
import { IVSequence } from '../iv.js';
import { DecryptStateTracker } from '../state.js';

const ROOM = 'k7m2p9qrs';
const ALICE = 'aliceAAAAAAAAAAAAAAAAA';
const BOB = 'bobBBBBBBBBBBBBBBBBBBB';
const link = newLinkKey();
const SALT = newJoinSalt();
const keysP = deriveRoomKeys(link, ROOM);

// A small deterministic PRNG so a failure can be reproduced from its seed.
/** @param {number} seed */
function rng(seed) {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return x;
  };
}

/**
 * Random bytes biased towards zeros so start-code emulation is exercised.
 * @param {() => number} r
 * @param {number} n
 */
function zeroHeavy(r, n) {
  const b = new Uint8Array(n);
  for (let i = 0; i < n; i++) b[i] = r() % 3 === 0 ? r() & 0xff : r() % 4 === 0 ? 1 : 0;
  return b;
}

/** @param {Uint8Array} b */
function hasStartCode(b) {
  for (let i = 0; i + 2 < b.length; i++) if (b[i] === 0 && b[i + 1] === 0 && b[i + 2] <= 1) return true;
  return false;
}

test('newLinkKey is 22 base64url chars of 16 random bytes', () => {
  const a = newLinkKey();
  assert.match(a, /^[A-Za-z0-9_-]{22}$/);
  assert.equal(decode(a).length, 16);
  assert.notEqual(a, newLinkKey());
});

test('safety code: same key same code, other key or room other code', async () => {
  const a = await safetyCode(link, ROOM);
  assert.equal(a, await (await keysP).safetyCode());
  assert.notEqual(a, await safetyCode(newLinkKey(), ROOM));
  assert.notEqual(a, await safetyCode(link, 'k7m2p9qrt'));
});

test('safety code: 16 digits in four groups', async () => {
  assert.match(await safetyCode(link, ROOM), /^\d{4} \d{4} \d{4} \d{4}$/);
});

test('senders, sources and joins get different keys; a frame opens under none but its own', async () => {
  const keys = await keysP;
  const a = await keys.frameKey(ALICE, 'microphone', SALT);
  const others = [
    await keys.frameKey(BOB, 'microphone', SALT),
    await keys.frameKey(ALICE, 'camera', SALT),
    await keys.frameKey(ALICE, 'screen', SALT),
    await keys.frameKey(ALICE, 'microphone', newJoinSalt()),
  ];
  const iv = new IVSequence().next();
  const enc = await encryptFrame(a, 'opus', false, iv, 0, Uint8Array.of(0xfc, 1, 2, 3).buffer);
  for (const b of others) await assert.rejects(decryptFrame(() => b, 'opus', enc), (/** @type {any} */ e) => e.reason === 'auth');
  assert.deepEqual(new Uint8Array(await decryptFrame(() => a, 'opus', enc)), Uint8Array.of(0xfc, 1, 2, 3));
  assert.throws(() => keys.frameKey(ALICE, /** @type {any} */ ('speaker'), SALT), TypeError);
  assert.throws(() => keys.frameKey(ALICE, 'camera', new Uint8Array(15)), TypeError);
});

test('a frame decrypts once; its replay is refused after authentication', async () => {
  const { ReplayWindow } = await import('../replay.js');
  const key = await (await keysP).frameKey(ALICE, 'camera', SALT);
  const w = new ReplayWindow();
  const enc = await encryptFrame(key, 'vp8', false, new IVSequence().next(), 0, Uint8Array.of(0xb1, 2, 0, 9).buffer);
  await decryptFrame(() => key, 'vp8', enc.slice(0), (_i, iv) => w.fresh(iv));
  await assert.rejects(decryptFrame(() => key, 'vp8', enc.slice(0), (_i, iv) => w.fresh(iv)), (/** @type {any} */ e) => e.reason === 'replay');
  // A forged frame fails before the window sees it.
  let asked = false;
  const t = new Uint8Array(enc.slice(0));
  t[5] ^= 1;
  await assert.rejects(decryptFrame(() => key, 'vp8', t.buffer, () => (asked = true)), (/** @type {any} */ e) => e.reason === 'auth');
  assert.equal(asked, false);
});

for (const codec of /** @type {const} */ (['vp8', 'opus'])) {
  test(`${codec} random round trips and every single-byte flip fails`, async () => {
    const keys = await keysP;
    const key = await keys.frameKey(ALICE, 'camera', SALT);
    const r = rng(codec.length * 7919);
    const ivs = new IVSequence();
    for (let n = 0; n < 40; n++) {
      const len = 1 + (r() % 200);
      const f = zeroHeavy(r, len);
      const keyFrame = codec === 'vp8' ? (f[0] & 1) === 0 : false;
      const enc = await encryptFrame(key, codec, keyFrame, ivs.next(), 3, f.slice().buffer);
      assert.equal(enc.byteLength, len + 30);
      const dec = await decryptFrame((i) => (i === 3 ? key : undefined), codec, enc);
      assert.deepEqual(new Uint8Array(dec), f);
      if (n < 5) {
        for (let i = 0; i < enc.byteLength; i++) {
          const t = new Uint8Array(enc.slice(0));
          t[i] ^= 0x40;
          await assert.rejects(decryptFrame((k) => (k === 3 ? key : undefined), codec, t.buffer), FrameError, `flip at ${i}`);
        }
      }
    }
  });
}

test('h264: protected part never contains a start code; round trip gives the canonical frame', async () => {
  const key = await (await keysP).frameKey(ALICE, 'camera', SALT);
  const r = rng(42);
  for (let n = 0; n < 60; n++) {
    const sc3 = r() % 2 === 0;
    const sc = sc3 ? [0, 0, 1] : [0, 0, 0, 1];
    const parts = [...sc, 0x67, 0x42, 0, 0x1f, ...sc, 0x68, 0xce, ...sc, r() % 2 ? 0x65 : 0x41];
    const body = zeroHeavy(r, r() % 300);
    const f = Uint8Array.from([...parts, ...body]);
    // All-zero IVs and key index 0 maximise escaping and need the end pad.
    const iv = n % 3 === 0 ? new Uint8Array(12) : new IVSequence().next();
    const enc = new Uint8Array(await encryptFrame(key, 'h264', false, iv, 0, f.slice().buffer));
    const { clear, rest } = h264Clear(f);
    assert.equal(rest, parts.length);
    assert.ok(!hasStartCode(enc.subarray(clear.length)), 'start code in protected part');
    assert.notEqual(enc[enc.length - 1], 0);
    const dec = new Uint8Array(await decryptFrame(() => key, 'h264', enc.buffer));
    assert.deepEqual(dec, Uint8Array.from([...clear, ...body]));
  }
});

test('h264 escape/unescape table', () => {
  /** @type {[number[], number, number[]][]} */
  const table = [
    [[0, 0, 0, 0x0c, 0], 0, [0, 0, 3, 0, 0x0c, 0, 3]],
    [[0, 0, 1], 0, [0, 0, 3, 1]],
    [[0, 0, 4], 0, [0, 0, 4]],
    [[0, 3, 0x0c, 3], 1, [0, 3, 3, 0x0c, 3]],
    [[0x0c, 7], 0, [0x0c, 7]],
  ];
  for (const [src, zeros, want] of table) {
    const esc = escapeH264(Uint8Array.from(src), zeros);
    assert.deepEqual([...esc], want, JSON.stringify(src));
    assert.deepEqual([...unescapeH264(esc, zeros)], src, JSON.stringify(src));
  }
});

test('key rotation: a receiver holding both indexes opens both, an old one fails after it is dropped', async () => {
  const k0 = await (await keysP).frameKey(ALICE, 'camera', SALT);
  const k1 = await (await deriveRoomKeys(newLinkKey(), ROOM)).frameKey(ALICE, 'camera', SALT);
  /** @type {Map<number, CryptoKey>} */
  const ring = new Map([[0, k0], [1, k1]]);
  const ivs = new IVSequence();
  const f = Uint8Array.of(0xb1, 2, 0, 9, 9, 9).buffer;
  const e0 = await encryptFrame(k0, 'vp8', false, ivs.next(), 0, f.slice(0));
  const e1 = await encryptFrame(k1, 'vp8', false, ivs.next(), 1, f.slice(0));
  assert.deepEqual(new Uint8Array(await decryptFrame((i) => ring.get(i), 'vp8', e0)), new Uint8Array(f));
  assert.deepEqual(new Uint8Array(await decryptFrame((i) => ring.get(i), 'vp8', e1)), new Uint8Array(f));
  ring.delete(0);
  await assert.rejects(decryptFrame((i) => ring.get(i), 'vp8', e0), (/** @type {any} */ e) => e.reason === 'unknown-key');
  // A key index byte rewritten to point at the other key fails authentication.
  const swapped = new Uint8Array(e0.slice(0));
  swapped[swapped.length - 1] = 1;
  await assert.rejects(decryptFrame((i) => ring.get(i), 'vp8', swapped.buffer), (/** @type {any} */ e) => e.reason === 'auth');
});

test('encryptFrame rejects bad arguments', async () => {
  const key = await (await keysP).frameKey(ALICE, 'camera', SALT);
  const f = Uint8Array.of(1, 2, 3, 4).buffer;
  await assert.rejects(encryptFrame(key, 'vp8', false, new Uint8Array(11), 0, f), RangeError);
  await assert.rejects(encryptFrame(key, 'vp8', false, new Uint8Array(12), 255, f), RangeError);
  await assert.rejects(encryptFrame(key, /** @type {any} */ ('vp9'), false, new Uint8Array(12), 0, f), FrameError);
});

test('messages: round trip, unicode, random IV, tamper, other sender, kind or room fail', async () => {
  const keys = await keysP;
  const ctx = { senderId: ALICE, salt: SALT, kind: /** @type {const} */ ('chat'), counter: 7 };
  const want = { from: ALICE, kind: /** @type {const} */ ('chat') };
  for (const text of ['hi', '', 'Ünïcødé 🎉', 'x'.repeat(5000)]) {
    const a = await seal(keys, ctx, text);
    assert.notEqual(a, await seal(keys, ctx, text), 'IV must be random');
    const o = await open(keys, want, a);
    assert.equal(o.text, text);
    assert.equal(o.counter, 7);
    assert.deepEqual(o.salt, SALT);
  }
  const sealed = await seal(keys, ctx, 'secret');
  const raw = decode(sealed);
  const { encode } = await import('../b64.js');
  for (let i = 0; i < raw.length; i++) {
    const t = raw.slice();
    t[i] ^= 1;
    await assert.rejects(open(keys, want, encode(t)), Error, `flip at ${i}`);
  }
  await assert.rejects(open(keys, { from: BOB, kind: 'chat' }, sealed));
  await assert.rejects(open(keys, { from: ALICE, kind: 'profile' }, sealed));
  await assert.rejects(open(await deriveRoomKeys(link, 'k7m2p9qrt'), want, sealed));
});

test('peer registry: fresh profiles, no replayed chat or profile, stale media', () => {
  const now = 1767225600000;
  const reg = new PeerRegistry();
  const salt = newJoinSalt();
  const m = (/** @type {number} */ counter, s = salt) => ({ text: '', salt: s, counter });
  assert.equal(reg.acceptProfile(ALICE, m(0), now - PROFILE_MAX_SKEW_MS - 1, now), 'stale', 'a recorded profile');
  assert.equal(reg.saltOf(ALICE, now), null);
  assert.equal(reg.acceptProfile(ALICE, m(0), now, now), '');
  assert.equal(reg.acceptProfile(ALICE, m(0), now, now + 10), '', 'the same profile announced again');
  assert.deepEqual(reg.saltOf(ALICE, now), salt);
  assert.equal(reg.acceptChat(ALICE, m(1)), '');
  assert.equal(reg.acceptChat(ALICE, m(1)), 'replay');
  assert.equal(reg.acceptChat(ALICE, m(3, newJoinSalt())), 'unknown-sender', 'chat of another join');
  assert.equal(reg.acceptChat(BOB, m(9)), 'unknown-sender');
  assert.equal(reg.acceptProfile(ALICE, m(2), now + 60000, now + 60000), '', 'refresh');
  assert.equal(reg.acceptProfile(ALICE, m(0), now, now + 60000), 'replay', 'an older profile of this join');
  assert.equal(reg.acceptProfile(ALICE, m(0, newJoinSalt()), now + 30000, now + 60000), 'replay', 'an older join under the same id');
  assert.equal(reg.saltOf(ALICE, now + 60000 + PROFILE_MAX_AGE_MS + 1), null, 'no refresh for too long');
  const later = newJoinSalt();
  assert.equal(reg.acceptProfile(ALICE, m(0, later), now + 120000, now + 120000), '', 'a newer join under the same id');
  assert.deepEqual(reg.saltOf(ALICE, now + 120000), later);
});

test('IV sequence: counter, distinct prefixes, reseed on wrap', () => {
  const a = new IVSequence();
  const b = new IVSequence();
  const a0 = a.next();
  const a1 = a.next();
  assert.deepEqual(a0.subarray(0, 8), a1.subarray(0, 8));
  assert.equal(new DataView(a1.buffer).getUint32(8), 1);
  assert.notDeepEqual(a0.subarray(0, 8), b.next().subarray(0, 8));
  const seq = /** @type {any} */ (a);
  seq.view.setUint32(8, 0xffffffff);
  const last = a.next();
  const next = a.next();
  assert.equal(new DataView(last.buffer).getUint32(8), 0xffffffff);
  assert.equal(new DataView(next.buffer).getUint32(8), 0);
  assert.notDeepEqual(next.subarray(0, 8), last.subarray(0, 8));
});

test('decrypt state tracker debounces per track and reports why', () => {
  /** @type {[string, boolean, any, number, string|null][]} */
  const steps = [
    ['a', true, '', 0, null],
    ['a', true, '', 100, null],
    ['a', true, '', 300, 'ok'],
    ['a', true, '', 320, null],
    ['a', false, 'auth', 400, null], // one failure does not flip
    ['a', true, '', 420, null],
    ['a', false, 'auth', 500, null],
    ['a', false, 'auth', 700, null],
    ['a', false, 'auth', 800, 'failing auth'],
    ['a', false, 'auth', 900, null],
    ['b', false, 'replay', 900, null], // tracks are independent
    ['a', false, 'replay', 950, null],
    ['a', false, 'replay', 1250, 'failing replay'], // a new reason, held
    ['a', true, '', 1300, null],
    ['a', true, '', 1600, 'ok'],
    ['b', false, 'replay', 1200, 'failing replay'],
  ];
  const t = new DecryptStateTracker(300);
  for (const [id, ok, reason, now, want] of steps) {
    const r = t.record(id, ok, reason, now);
    assert.equal(r && (r.state + (r.reason ? ' ' + r.reason : '')), want, `${id} ${ok} @${now}`);
  }
});

test('injected frames are never accepted, not even the v1 silence', async () => {
  await assert.rejects(decryptFrame(() => undefined, 'opus', Uint8Array.of(0xf8, 0xff, 0xfe, 0, 0xff).buffer), (/** @type {any} */ e) => e.reason === 'injected');
});
