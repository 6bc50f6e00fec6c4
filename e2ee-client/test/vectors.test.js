// Checks the JavaScript implementation against testdata/vectors.json, which
// an independent Python implementation of docs/e2ee.md wrote.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';

import { deriveRoomKeys, safetyCode } from '../keys.js';
import { encryptFrame, decryptFrame, FrameError } from '../frame.js';
import { open, sealWithIV } from '../message.js';
import { ReplayWindow, REPLAY_WINDOW, MAX_PREFIXES } from '../replay.js';

const vectors = JSON.parse(await readFile(new URL('../testdata/vectors.json', import.meta.url), 'utf8'));

/** @param {string} h */
const hex = (h) => Uint8Array.from(h.match(/../g) || [], (x) => parseInt(x, 16));
/** @param {ArrayBuffer|Uint8Array} b */
const toHex = (b) => Buffer.from(b instanceof Uint8Array ? b : new Uint8Array(b)).toString('hex');

/** @type {Map<string, Promise<import('../keys.js').RoomKeys>>} */
const cache = new Map();
/** @param {string} link @param {string} room */
function keysFor(link, room) {
  const id = link + '/' + room;
  if (!cache.has(id)) cache.set(id, deriveRoomKeys(link, room));
  return /** @type {Promise<import('../keys.js').RoomKeys>} */ (cache.get(id));
}

test('iteration count matches the vectors', async () => {
  const { PBKDF2_ITERATIONS } = await import('../keys.js');
  assert.equal(PBKDF2_ITERATIONS, vectors.pbkdf2_iterations);
});

for (const k of vectors.keys) {
  test(`keys ${k.link_key} ${k.room}`, async () => {
    const rk = await keysFor(k.link_key, k.room);
    assert.equal(toHex(await rk.messageKeyBytes()), k.message_key);
    assert.equal(await rk.safetyCode(), k.safety_code);
    assert.equal(await safetyCode(k.link_key, k.room), k.safety_code);
    assert.match(k.safety_code, /^\d{4} \d{4} \d{4} \d{4}$/);
    for (const s of k.senders) {
      assert.equal(toHex(await rk.frameKeyBytes(s.id, s.source, hex(s.join_salt))), s.frame_key, s.id + ' ' + s.source);
    }
  });
}

for (const b of vectors.bad_keys) {
  test(`rejects ${b.name}`, async () => {
    await assert.rejects(deriveRoomKeys(b.link_key, b.room), TypeError);
  });
}

for (const f of vectors.frames) {
  test(`frame ${f.name}`, async () => {
    const rk = await keysFor(f.link_key, f.room);
    const key = await rk.frameKey(f.sender, f.source, hex(f.join_salt));
    const enc = await encryptFrame(key, f.codec, f.key_frame, hex(f.iv), f.key_index, hex(f.plaintext).buffer);
    assert.equal(toHex(enc), f.encrypted);
    const dec = await decryptFrame((i) => (i === f.key_index ? key : undefined), f.codec, hex(f.encrypted).buffer);
    assert.equal(toHex(dec), f.decrypted);
  });
}

for (const t of vectors.tampered) {
  test(`tampered ${t.name} fails with ${t.error}`, async () => {
    const key = await (await keysFor(t.link_key, t.room)).frameKey(t.sender, t.source, hex(t.join_salt));
    await assert.rejects(
      decryptFrame((i) => (i === 0 ? key : undefined), t.codec, hex(t.frame).buffer),
      (/** @type {unknown} */ e) => e instanceof FrameError && e.reason === t.error,
    );
  });
}

test('replay window', () => {
  assert.equal(REPLAY_WINDOW, vectors.replay_window);
  assert.equal(MAX_PREFIXES, vectors.max_prefixes);
  const w = new ReplayWindow();
  vectors.replay.forEach((/** @type {{iv: string, fresh: boolean}} */ r, /** @type {number} */ i) => assert.equal(w.fresh(hex(r.iv)), r.fresh, `#${i} ${r.iv}`));
});

for (const m of vectors.messages) {
  test(`message ${m.kind} ${JSON.stringify(m.plaintext)}`, async () => {
    const rk = await keysFor(m.link_key, m.room);
    const ctx = { senderId: m.sender, salt: hex(m.join_salt), kind: m.kind, counter: m.counter };
    assert.equal(await sealWithIV(rk, ctx, m.plaintext, hex(m.iv)), m.sealed);
    const o = await open(rk, { from: m.sender, kind: m.kind }, m.sealed);
    assert.equal(o.text, m.plaintext);
    assert.equal(o.counter, m.counter);
    assert.equal(toHex(o.salt), m.join_salt);
  });
}

for (const m of vectors.bad_messages) {
  test(`message tamper: ${m.name}`, async () => {
    const rk = await keysFor(vectors.keys[0].link_key, vectors.keys[0].room);
    await assert.rejects(open(rk, { from: m.sender, kind: m.kind }, m.sealed));
  });
}
