import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chooseLayout, gridShape } from '../static/js/layout.js';

/** @param {string} key */
const cam = (key) => ({ key, id: key, self: key === 'self', screen: false });
/** @param {string} id */
const scr = (id) => ({ key: id + ':screen', id, self: id === 'self', screen: true });

test('chooseLayout', () => {
  const cases = [
    { name: 'alone', tiles: [cam('self')], o: { pinned: '', view: 'grid', speaker: '' }, want: { mode: 'grid', stage: '' } },
    { name: 'grid of three', tiles: [cam('self'), cam('a'), cam('b')], o: { pinned: '', view: 'grid', speaker: 'a' }, want: { mode: 'grid', stage: '' } },
    { name: 'speaker view', tiles: [cam('self'), cam('a'), cam('b')], o: { pinned: '', view: 'speaker', speaker: 'b' }, want: { mode: 'stage', stage: 'b' } },
    { name: 'speaker view, nobody spoke yet', tiles: [cam('self'), cam('a'), cam('b')], o: { pinned: '', view: 'speaker', speaker: '' }, want: { mode: 'stage', stage: 'a' } },
    { name: 'speaker view never stages self', tiles: [cam('self'), cam('a')], o: { pinned: '', view: 'speaker', speaker: 'self' }, want: { mode: 'stage', stage: 'a' } },
    { name: 'speaker view alone', tiles: [cam('self')], o: { pinned: '', view: 'speaker', speaker: '' }, want: { mode: 'grid', stage: '' } },
    { name: 'screen takes the stage', tiles: [cam('self'), cam('a'), scr('a')], o: { pinned: '', view: 'grid', speaker: '' }, want: { mode: 'stage', stage: 'a:screen' } },
    { name: 'their screen before ours', tiles: [cam('self'), cam('a'), scr('a'), scr('self')], o: { pinned: '', view: 'grid', speaker: '' }, want: { mode: 'stage', stage: 'a:screen' } },
    { name: 'latest remote screen', tiles: [cam('self'), scr('a'), scr('b')], o: { pinned: '', view: 'grid', speaker: '' }, want: { mode: 'stage', stage: 'b:screen' } },
    { name: 'own screen when alone sharing', tiles: [cam('self'), cam('a'), scr('self')], o: { pinned: '', view: 'grid', speaker: '' }, want: { mode: 'stage', stage: 'self:screen' } },
    { name: 'pin beats screen', tiles: [cam('self'), cam('a'), scr('a'), cam('b')], o: { pinned: 'b', view: 'grid', speaker: '' }, want: { mode: 'stage', stage: 'b' } },
    { name: 'pin of a gone tile is ignored', tiles: [cam('self'), cam('a')], o: { pinned: 'b', view: 'grid', speaker: '' }, want: { mode: 'grid', stage: '' } },
    { name: 'pinning self is allowed', tiles: [cam('self'), cam('a')], o: { pinned: 'self', view: 'grid', speaker: '' }, want: { mode: 'stage', stage: 'self' } },
  ];
  for (const c of cases) assert.deepEqual(chooseLayout(c.tiles, c.o), c.want, c.name);
});

test('gridShape fills the area with the largest 16:9 tiles', () => {
  assert.deepEqual(gridShape(1, 1280, 720), { cols: 1, rows: 1, tileW: 1280, tileH: 720 });
  const four = gridShape(4, 1256, 640);
  assert.equal(four.cols, 2);
  assert.equal(four.rows, 2);
  assert.ok(four.tileH * 2 + 10 <= 640, 'two rows fit');
  // A tall narrow screen stacks.
  assert.equal(gridShape(3, 370, 700).cols, 1);
  // Never wider than the area.
  for (let n = 1; n <= 12; n++) {
    const g = gridShape(n, 800, 500);
    assert.ok(g.cols * g.tileW + (g.cols - 1) * 10 <= 800, 'n=' + n);
    assert.ok(g.rows * g.tileH + (g.rows - 1) * 10 <= 500, 'n=' + n);
  }
});
