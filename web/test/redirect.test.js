// Tests of join redirects (several nodes, docs/scaling.md): the session
// follows the server's redirect to the hosting node with the same token, at
// most MAX_REDIRECTS times, and a redirect socket's close does not end it.
import { test } from 'node:test';
import assert from 'node:assert/strict';

/**
 * A scripted WebSocket: each URL answers the join with a fixed message.
 * @type {Map<string, object>}
 */
const answers = new Map();
/** @type {{url: string, sent: any[]}[]} */
const opened = [];

class FakeWebSocket {
  static OPEN = 1;
  /** @param {string} url */
  constructor(url) {
    this.url = url;
    this.readyState = 0;
    /** @type {any} */ this.onopen = null;
    /** @type {any} */ this.onmessage = null;
    /** @type {any} */ this.onclose = null;
    /** @type {any} */ this.onerror = null;
    this.record = { url, sent: /** @type {any[]} */ ([]) };
    opened.push(this.record);
    setTimeout(() => {
      this.readyState = 1;
      if (this.onopen) this.onopen();
    }, 0);
  }

  /** @param {string} data */
  send(data) {
    const msg = JSON.parse(data);
    this.record.sent.push(msg);
    if (msg.type !== 'join') return;
    const answer = answers.get(this.url) || { type: 'error', code: 'internal', message: 'no answer scripted', fatal: true };
    setTimeout(() => this.onmessage && this.onmessage({ data: JSON.stringify(answer) }), 0);
  }

  close() {
    if (this.readyState === 3) return;
    this.readyState = 3;
    setTimeout(() => this.onclose && this.onclose({ reason: '' }), 0);
  }
}
// @ts-ignore: the session module reads the global, as in a browser
globalThis.WebSocket = FakeWebSocket;

const { Session, MAX_REDIRECTS, JoinError } = await import('../static/js/session.js');

const welcome = { type: 'welcome', v: 1, id: 'p1', e2ee: true, participants: [] };

test('a join follows redirects with the same token', async () => {
  answers.clear();
  opened.length = 0;
  answers.set('wss://lb.example/ws', { type: 'redirect', url: 'wss://node2.example/ws' });
  answers.set('wss://node2.example/ws', welcome);
  const s = new Session({ wsUrl: 'wss://lb.example/ws', token: 'tok' });
  let closed = false;
  s.on('closed', () => { closed = true; });
  const w = await s._connectFollowing();
  assert.equal(w.id, 'p1');
  assert.deepEqual(opened.map((o) => o.url), ['wss://lb.example/ws', 'wss://node2.example/ws']);
  for (const o of opened) assert.equal(o.sent[0].token, 'tok');
  await new Promise((r) => setTimeout(r, 5));
  assert.equal(closed, false, 'the redirecting socket closing must not end the session');
});

test('redirects are bounded', async () => {
  answers.clear();
  opened.length = 0;
  answers.set('wss://a.example/ws', { type: 'redirect', url: 'wss://b.example/ws' });
  answers.set('wss://b.example/ws', { type: 'redirect', url: 'wss://a.example/ws' });
  const s = new Session({ wsUrl: 'wss://a.example/ws', token: 'tok' });
  await assert.rejects(s._connectFollowing(), (err) => err instanceof JoinError && err.code === 'redirect');
  assert.equal(opened.length, MAX_REDIRECTS + 1);
});

test('a redirect to something that is not a WebSocket URL is not followed', async () => {
  answers.clear();
  opened.length = 0;
  answers.set('wss://a.example/ws', { type: 'redirect', url: 'javascript:alert(1)' });
  const s = new Session({ wsUrl: 'wss://a.example/ws', token: 'tok', joinTimeoutMs: 50 });
  await assert.rejects(s._connectFollowing(), (err) => err instanceof JoinError && err.code !== 'redirect');
  assert.equal(opened.length, 1);
});
