import { test } from 'node:test';
import assert from 'node:assert/strict';
import { receiveQuality, sendQuality, grade } from '../static/js/quality.js';

test('receiveQuality from counter deltas', () => {
  const cases = [
    { name: 'first sample', prev: null, cur: { packets: 100, lost: 0, jitter: 0 }, want: 'unknown' },
    { name: 'clean', prev: { packets: 100, lost: 0, jitter: 0 }, cur: { packets: 300, lost: 1, jitter: 0.005 }, want: 'good' },
    { name: '5% loss', prev: { packets: 100, lost: 0, jitter: 0 }, cur: { packets: 290, lost: 10, jitter: 0.005 }, want: 'fair' },
    { name: '20% loss', prev: { packets: 100, lost: 0, jitter: 0 }, cur: { packets: 260, lost: 40, jitter: 0 }, want: 'poor' },
    { name: 'high jitter', prev: { packets: 100, lost: 0, jitter: 0 }, cur: { packets: 300, lost: 0, jitter: 0.2 }, want: 'poor' },
    { name: 'frozen', prev: { packets: 100, lost: 0, jitter: 0 }, cur: { packets: 100, lost: 0, jitter: 0 }, want: 'poor' },
    { name: 'nothing yet', prev: { packets: 0, lost: 0, jitter: 0 }, cur: { packets: 0, lost: 0, jitter: 0 }, want: 'unknown' },
    { name: 'counter reset', prev: { packets: 500, lost: 9, jitter: 0 }, cur: { packets: 20, lost: 0, jitter: 0 }, want: 'poor' },
  ];
  for (const c of cases) assert.equal(receiveQuality(c.prev, c.cur), c.want, c.name);
});

test('sendQuality from receiver reports', () => {
  assert.equal(sendQuality(null), 'unknown');
  assert.equal(sendQuality({ fractionLost: 0, rtt: 0.02 }), 'good');
  assert.equal(sendQuality({ fractionLost: 0, rtt: 0.4 }), 'fair');
  assert.equal(sendQuality({ fractionLost: 0.15, rtt: 0.02 }), 'poor');
});

test('grade thresholds are inclusive at the boundary', () => {
  assert.equal(grade(0.0299, 0, 0), 'good');
  assert.equal(grade(0.03, 0, 0), 'fair');
  assert.equal(grade(0.1, 0, 0), 'poor');
  assert.equal(grade(0, 0, 0.7), 'poor');
});
