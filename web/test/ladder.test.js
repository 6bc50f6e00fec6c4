import { test } from 'node:test';
import assert from 'node:assert/strict';
import { tierFor, cameraEncodings, announced, captureConstraints, TIERS } from '../static/js/ladder.js';

test('tierFor: 720p for small rooms, smaller as the room grows', () => {
  const cases = [
    { people: 1, height: 720 }, { people: 2, height: 720 }, { people: 4, height: 720 },
    { people: 5, height: 540 }, { people: 9, height: 540 },
    { people: 10, height: 360 }, { people: 100, height: 360 },
  ];
  for (const c of cases) assert.equal(tierFor(c.people).height, c.height, `${c.people} people`);
});

test('tiers shrink and every layer fits under the one above', () => {
  for (let i = 1; i < TIERS.length; i++) {
    assert.ok(TIERS[i].height < TIERS[i - 1].height);
    assert.ok(TIERS[i].bitrates[2] < TIERS[i - 1].bitrates[2]);
  }
  for (const t of TIERS) assert.ok(t.bitrates[0] < t.bitrates[1] && t.bitrates[1] < t.bitrates[2]);
});

test('cameraEncodings: q, h, f at 1/4, 1/2, 1 with the tier rates', () => {
  const e = cameraEncodings(tierFor(2));
  assert.deepEqual(e.map((x) => x.rid), ['q', 'h', 'f']);
  assert.deepEqual(e.map((x) => x.scaleResolutionDownBy), [4, 2, 1]);
  assert.deepEqual(e.map((x) => x.maxBitrate), [150000, 500000, 1500000]);
  assert.equal(captureConstraints(tierFor(12)).height.ideal, 360);
});

test('announced: sizes from the track and the scale', () => {
  assert.deepEqual(announced(cameraEncodings(tierFor(2)), 1280, 720), [
    { rid: 'q', width: 320, height: 180, maxBitrate: 150000 },
    { rid: 'h', width: 640, height: 360, maxBitrate: 500000 },
    { rid: 'f', width: 1280, height: 720, maxBitrate: 1500000 },
  ]);
  // One encoding without a rid (no simulcast, or Firefox's default).
  assert.deepEqual(announced([{}], 640, 480), [{ rid: '', width: 640, height: 480, maxBitrate: 0 }]);
  assert.deepEqual(announced([], 1920, 1080), [{ rid: '', width: 1920, height: 1080, maxBitrate: 0 }]);
});
