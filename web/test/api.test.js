// Tests of the token request: a client that lost its node without a drain
// says so (docs/scaling.md, failover), and only then.
import { test } from 'node:test';
import assert from 'node:assert/strict';

/** @type {any[]} */
const bodies = [];
/** @type {any} */ (globalThis).location = { href: 'https://meet.example.test/r/abcdefghj' };
/** @type {any} */ (globalThis).fetch = async (/** @type {string} */ _path, /** @type {any} */ init) => {
  bodies.push(JSON.parse(init.body));
  return { ok: true, status: 200, json: async () => ({ token: 't', ws: 'wss://node2.meet.example.test/ws', iceServers: [] }) };
};

const { joinToken } = await import('../static/js/api.js');

test('joinToken reports a lost host only when asked', async () => {
  bodies.length = 0;
  const tok = await joinToken('abcdefghj', true, '', true);
  assert.equal(tok.ws, 'wss://node2.meet.example.test/ws');
  await joinToken('abcdefghj', true);
  assert.equal(bodies[0].hostLost, true);
  assert.equal('hostLost' in bodies[1], false);
  assert.equal(bodies[0].room, 'abcdefghj');
});
