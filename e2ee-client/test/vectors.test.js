// Checks the JavaScript implementation against testdata/vectors.json, which
// an independent Python implementation of docs/e2ee.md wrote.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';

import { deriveRoomKeys, safetyCode } from '../keys.js';
import { encryptFrame, decryptFrame, FrameError } from '../frame.js';
import { open, sealWithIV } from '../message.js';

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
    assert.match(k.safety_code, /^\d{4} \d{4}$/);
    for (const s of k.senders) {
      assert.equal(toHex(await rk.frameKeyBytes(s.id)), s.frame_key, s.id);
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
    const key = await rk.frameKey(f.sender);
    const enc = await encryptFrame(key, f.codec, f.key_frame, hex(f.iv), f.key_index, hex(f.plaintext).buffer);
    assert.equal(toHex(enc), f.encrypted);
    const dec = await decryptFrame((i) => (i === f.key_index ? key : undefined), f.codec, hex(f.encrypted).buffer);
    assert.equal(toHex(dec), f.decrypted);
  });
}

for (const t of vectors.tampered) {
  test(`tampered ${t.name} fails with ${t.error}`, async () => {
    const key = await (await keysFor(t.link_key, t.room)).frameKey(t.sender);
    await assert.rejects(
      decryptFrame((i) => (i === 0 ? key : undefined), t.codec, hex(t.frame).buffer),
      (/** @type {unknown} */ e) => e instanceof FrameError && e.reason === t.error,
    );
  });
}

for (const j of vectors.injected) {
  test(`injected ${j.name} passes through`, async () => {
    const out = await decryptFrame(() => undefined, j.codec, hex(j.frame).buffer);
    assert.equal(toHex(out), j.body);
  });
}

for (const m of vectors.messages) {
  test(`message ${JSON.stringify(m.plaintext)}`, async () => {
    const rk = await keysFor(m.link_key, m.room);
    assert.equal(await sealWithIV(rk, m.plaintext, hex(m.iv)), m.sealed);
    assert.equal(await open(rk, m.sealed), m.plaintext);
  });
}

for (const m of vectors.bad_messages) {
  test(`message tamper: ${m.name}`, async () => {
    const rk = await keysFor(vectors.keys[0].link_key, vectors.keys[0].room);
    await assert.rejects(open(rk, m.sealed));
  });
}
