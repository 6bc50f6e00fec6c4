// Opus RED (RFC 2198) sealed block by block: parsing, the round trip, and
// what a receiver keeps when blocks are lost, replayed or altered.
import { test } from 'node:test';
import assert from 'node:assert/strict';

import { deriveRoomKeys, newLinkKey, newJoinSalt } from '../keys.js';
import { encryptFrame, decryptFrame, FrameError } from '../frame.js';
import { IVSequence } from '../iv.js';
import { ReplayWindow } from '../replay.js';
import { MAX_RED_BLOCKS, SealedHistory, buildRED, openRED, parseRED, redSilence, sealRED } from '../red.js';

const ALICE = 'aliceAAAAAAAAAAAAAAAAA';
const SALT = newJoinSalt();
const keysP = deriveRoomKeys(newLinkKey(), 'k7m2p9qrs');

/** An Opus frame: TOC byte then n bytes of a pattern. */
function opus(/** @type {number} */ seed, n = 60) {
  const f = new Uint8Array(n + 1);
  f[0] = 0x78;
  for (let i = 1; i < f.length; i++) f[i] = (seed * 31 + i * 7) & 0xff;
  return f;
}

/** The RED payload Chromium's encoder makes for frame k: frame k-1 redundant, k primary. */
function chromeRED(/** @type {number} */ k) {
  if (k === 0) return buildRED([{ pt: 111, tsOffset: 0, data: opus(0) }]);
  return buildRED([
    { pt: 111, tsOffset: 960, data: opus(k - 1) },
    { pt: 111, tsOffset: 0, data: opus(k) },
  ]);
}

/** A sender and a receiver of one track, as the worker wires them. */
async function pair() {
  const keys = await keysP;
  const key = await keys.frameKey(ALICE, 'microphone', SALT);
  const ivs = new IVSequence();
  const history = new SealedHistory();
  const win = new ReplayWindow();
  const seal = async (/** @type {Uint8Array} */ b) =>
    new Uint8Array(await encryptFrame(key, 'opus', false, ivs.next(), 0, b.slice().buffer));
  const open = async (/** @type {Uint8Array} */ b) =>
    new Uint8Array(await decryptFrame(() => key, 'opus', b.slice().buffer, (_i, iv) => win.fresh(iv)));
  return {
    send: async (/** @type {Uint8Array} */ p) => sealRED(p, seal, history),
    recv: async (/** @type {Uint8Array} */ p) => openRED(p, open),
  };
}

test('parseRED and buildRED invert each other', () => {
  const blocks = [
    { pt: 111, tsOffset: 1920, data: opus(1, 10) },
    { pt: 111, tsOffset: 960, data: opus(2, 1000) },
    { pt: 111, tsOffset: 0, data: opus(3, 0) },
  ];
  const p = buildRED(blocks);
  assert.equal(p.length, 4 * 2 + 1 + 11 + 1001 + 1);
  assert.deepEqual(parseRED(p), blocks);
  // Primary only: one header byte.
  assert.deepEqual(parseRED(Uint8Array.of(111, 1, 2)), [{ pt: 111, tsOffset: 0, data: Uint8Array.of(1, 2) }]);
});

test('buildRED leaves out older blocks a header cannot describe', () => {
  const p = buildRED([
    { pt: 111, tsOffset: 960, data: new Uint8Array(1024) },
    { pt: 111, tsOffset: 1 << 14, data: opus(1) },
    { pt: 111, tsOffset: 0, data: opus(2) },
  ]);
  assert.deepEqual(parseRED(p), [{ pt: 111, tsOffset: 0, data: opus(2) }]);
});

test('parseRED refuses what is not RED', () => {
  const tooMany = [];
  for (let i = 0; i <= MAX_RED_BLOCKS; i++) tooMany.push(0x80 | 111, 0, 0, 0);
  tooMany.push(111);
  /** @type {[string, number[]][]} */
  const cases = [
    ['empty', []],
    ['header cut short', [0x80 | 111, 0x0f]],
    ['no primary header', [0x80 | 111, 0, 0, 0]],
    ['block past the end', [0x80 | 111, 0x0f, 0x00, 0x05, 111, 1, 2]],
    ['too many blocks', tooMany],
  ];
  for (const [name, bytes] of cases) {
    assert.equal(parseRED(Uint8Array.from(bytes)), null, name);
  }
});

test('sealed RED keeps its headers in clear and opens to what was sent', async () => {
  const { send, recv } = await pair();
  for (let k = 0; k < 5; k++) {
    const plain = chromeRED(k);
    const sealed = /** @type {Uint8Array} */ (await send(plain));
    const blocks = /** @type {import('../red.js').RedBlock[]} */ (parseRED(sealed));
    assert.equal(blocks.length, k === 0 ? 1 : 2);
    assert.equal(blocks[blocks.length - 1].pt, 111);
    // The primary alone is an ordinary sealed Opus frame (what the SFU
    // hands a subscriber without RED).
    assert.equal(blocks[blocks.length - 1].data.length, opus(k).length + 16 + 14);
    const { data, refused } = await recv(sealed);
    // The older block is the frame received just before: a replay, left out.
    assert.deepEqual(parseRED(data), [{ pt: 111, tsOffset: 0, data: opus(k) }]);
    assert.equal(refused.length, k === 0 ? 0 : 1);
    if (k > 0) assert.equal(/** @type {FrameError} */ (refused[0]).reason, 'replay');
  }
});

test('a redundant block is the earlier primary, byte for byte', async () => {
  const { send } = await pair();
  const first = /** @type {Uint8Array} */ (await send(chromeRED(0)));
  const second = /** @type {Uint8Array} */ (await send(chromeRED(1)));
  const p0 = /** @type {import('../red.js').RedBlock[]} */ (parseRED(first));
  const p1 = /** @type {import('../red.js').RedBlock[]} */ (parseRED(second));
  assert.deepEqual(p1[0].data, p0[0].data);
});

test('a lost packet is decoded from the copy in the next one, once', async () => {
  const { send, recv } = await pair();
  const sealed = [];
  for (let k = 0; k < 3; k++) sealed.push(/** @type {Uint8Array} */ (await send(chromeRED(k))));
  await recv(sealed[0]);
  // Packet 1 is lost: packet 2 carries frame 1 as well.
  const { data, refused } = await recv(sealed[2]);
  assert.equal(refused.length, 0);
  assert.deepEqual(parseRED(data), [
    { pt: 111, tsOffset: 960, data: opus(1) },
    { pt: 111, tsOffset: 0, data: opus(2) },
  ]);
  // Packet 1 arriving late now is a replay of frame 1: dropped whole.
  await assert.rejects(recv(sealed[1]), (e) => e instanceof FrameError && e.reason === 'replay');
});

test('an altered block never reaches the decoder', async () => {
  const { send, recv } = await pair();
  await send(chromeRED(0));
  const sealed = /** @type {Uint8Array} */ (await send(chromeRED(1)));
  const [older, primary] = /** @type {import('../red.js').RedBlock[]} */ (parseRED(sealed));

  const badOlder = older.data.slice();
  badOlder[5] ^= 1;
  const { data, refused } = await recv(buildRED([{ ...older, data: badOlder }, primary]));
  assert.deepEqual(parseRED(data), [{ pt: 111, tsOffset: 0, data: opus(1) }]);
  assert.equal(/** @type {FrameError} */ (refused[0]).reason, 'auth');

  const { send: send2, recv: recv2 } = await pair();
  await send2(chromeRED(0));
  const sealed2 = /** @type {Uint8Array} */ (await send2(chromeRED(1)));
  const [older2, primary2] = /** @type {import('../red.js').RedBlock[]} */ (parseRED(sealed2));
  const badPrimary = primary2.data.slice();
  badPrimary[5] ^= 1;
  await assert.rejects(recv2(buildRED([older2, { ...primary2, data: badPrimary }])), (e) => e instanceof FrameError && e.reason === 'auth');
  // Plain Opus in RED, as a server would inject it, is refused too.
  await assert.rejects(recv2(buildRED([{ pt: 111, tsOffset: 0, data: opus(9) }])), (e) => e instanceof FrameError);
  await assert.rejects(recv2(Uint8Array.of(0x80 | 111, 0xff)), (e) => e instanceof FrameError && e.reason === 'malformed');
});

test('malformed RED from the encoder is not sent', async () => {
  const { send } = await pair();
  assert.equal(await send(Uint8Array.of(0x80 | 111, 0, 0, 9, 111)), null);
});

test('redSilence keeps the inner payload type', () => {
  const s = /** @type {Uint8Array} */ (redSilence(chromeRED(3), Uint8Array.of(0xf8, 0xff, 0xfe)));
  assert.deepEqual(parseRED(s), [{ pt: 111, tsOffset: 0, data: Uint8Array.of(0xf8, 0xff, 0xfe) }]);
  assert.equal(redSilence(Uint8Array.of(0x80), Uint8Array.of(0xf8)), null);
});
