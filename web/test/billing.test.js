// Tests of the page's billing module: where the access code is kept and
// the only requests it is sent with.
import { test, beforeEach } from 'node:test';
import assert from 'node:assert/strict';
import {
  ACCESS_CODE_KEY, cleanAccessCode, savedAccessCode, saveAccessCode, roomFields, tokenFields,
  noteRoomCreated, fetchPlans, checkoutURL, lengthLabel, limitsLabel,
} from '../static/js/billing.js';

/** A Storage over a Map, like the browser's. */
class MemStorage {
  constructor() { this.m = new Map(); }
  /** @param {string} k */
  getItem(k) { return this.m.has(k) ? this.m.get(k) : null; }
  /** @param {string} k @param {string} v */
  setItem(k, v) { this.m.set(k, String(v)); }
  /** @param {string} k */
  removeItem(k) { this.m.delete(k); }
}

const CODE = '0AB3C-DEF45-GH7JK';

/**
 * @param {number} status
 * @param {unknown} body
 * @param {{url: string, init?: RequestInit}[]} [log]
 */
const fakeFetch = (status, body, log = []) => async (/** @type {string} */ url, /** @type {RequestInit} */ init) => {
  log.push({ url, init });
  return new Response(JSON.stringify(body), { status, headers: { 'Content-Type': 'application/json' } });
};

beforeEach(() => {
  globalThis.localStorage = /** @type {any} */ (new MemStorage());
  globalThis.sessionStorage = /** @type {any} */ (new MemStorage());
});

test('the code is kept in localStorage only, cleaned of pasted spaces', () => {
  saveAccessCode('  0AB3C-DEF45\n-GH7JK ');
  assert.equal(savedAccessCode(), CODE);
  assert.equal(localStorage.getItem(ACCESS_CODE_KEY), CODE);
  assert.equal(sessionStorage.getItem(ACCESS_CODE_KEY), null);
  saveAccessCode('');
  assert.equal(savedAccessCode(), '');
  assert.equal(cleanAccessCode('a b'.repeat(200)).length, 256);
});

test('billing off: no code is sent, plans hidden', async () => {
  saveAccessCode(CODE);
  assert.deepEqual(await fetchPlans(fakeFetch(404, { error: 'no such API endpoint' })), { billing: false, plans: [] });
  assert.deepEqual(roomFields(), {});
  assert.deepEqual(await fetchPlans(async () => { throw new TypeError('offline'); }), { billing: false, plans: [] });
});

test('billing on: the code goes with room creation, and with tokens only for rooms this tab made paid', async () => {
  saveAccessCode(CODE);
  const reply = await fetchPlans(fakeFetch(200, {
    billing: true,
    plans: [
      { id: 'free', name: 'Free', paid: false, max_participants: 8, max_duration_seconds: 3600, display_price: 'Free' },
      { id: 'pro', name: 'Pro', paid: true, max_participants: 50, max_duration_seconds: 28800, display_price: '$8/month' },
      { bogus: true },
    ],
  }));
  assert.equal(reply.billing, true);
  assert.deepEqual(reply.plans.map((p) => p.id), ['free', 'pro']);
  assert.deepEqual(roomFields(), { accessCode: CODE });

  assert.deepEqual(tokenFields('abcdefghj'), {}, 'a meeting someone else made');
  noteRoomCreated('freeroom1', undefined);
  assert.deepEqual(tokenFields('freeroom1'), {}, 'a free meeting this tab made');
  noteRoomCreated('abcdefghj', { id: 'pro' });
  assert.deepEqual(tokenFields('abcdefghj'), { accessCode: CODE });
  saveAccessCode('');
  assert.deepEqual(tokenFields('abcdefghj'), {}, 'code removed');
  saveAccessCode(CODE);
  await fetchPlans(fakeFetch(404, {}));
  assert.deepEqual(roomFields(), {}, 'billing turned off since');
});

test('checkout returns the Stripe URL or a readable error', async () => {
  const log = /** @type {{url: string, init?: RequestInit}[]} */ ([]);
  assert.equal(await checkoutURL('pro', fakeFetch(200, { url: 'https://checkout.stripe.com/c/pay/cs_test_1' }, log)), 'https://checkout.stripe.com/c/pay/cs_test_1');
  assert.equal(log[0].url, '/api/checkout');
  assert.equal(log[0].init?.body, JSON.stringify({ plan: 'pro' }));
  await assert.rejects(checkoutURL('pro', fakeFetch(502, { error: 'billing: payment provider unavailable, try again in a minute' })), /unavailable/);
  await assert.rejects(checkoutURL('pro', fakeFetch(200, { url: 'javascript:alert(1)' })), /not available/);
});

test('limits read as people say them', () => {
  assert.equal(lengthLabel(3600), '60 minutes');
  assert.equal(lengthLabel(8 * 3600), '8 hours');
  assert.equal(lengthLabel(0), 'no time limit');
  assert.equal(limitsLabel({ id: 'free', name: 'Free', paid: false, max_participants: 8, max_duration_seconds: 3600, display_price: '' }), 'up to 8 people, 60 minutes per meeting');
  assert.equal(limitsLabel({ id: 'x', name: 'X', paid: true, max_participants: 0, max_duration_seconds: 0, display_price: '' }), 'any number of people, no time limit per meeting');
});
