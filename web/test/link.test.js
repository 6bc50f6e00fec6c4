// Tests of meeting-link parsing: the key must come only from the fragment,
// and pasted links to other hosts must not be followed.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseRoomLink, keyFromHash, nameFromHash, joinFragment, inviteLink, joinTarget } from '../static/js/link.js';

const KEY = 'AAECAwQFBgcICQoLDA0ODw';

/** @param {string} href */
const loc = (href) => new URL(href, 'https://meet.example');

test('parseRoomLink', () => {
  const cases = [
    { href: '/r/abcdefghj#' + KEY, want: { code: 'abcdefghj', e2ee: true, key: KEY, name: '', autojoin: false, e2eePath: 'auto', lowVideo: false, simulcast: null, noiseOff: false } },
    { href: '/r/abcdefghj?e2ee=off', want: { code: 'abcdefghj', e2ee: false, key: '', name: '', autojoin: false, e2eePath: 'auto', lowVideo: false, simulcast: null, noiseOff: false } },
    { href: '/r/abcdefghj?autojoin=1&e2eepath=script#' + KEY + '&name=Ann', want: { code: 'abcdefghj', e2ee: true, key: KEY, name: 'Ann', autojoin: true, e2eePath: 'script', lowVideo: false, simulcast: null, noiseOff: false } },
    { href: '/r/abcdefghj?autojoin=1#' + KEY + '&name=Zo%C3%AB%20%26%20Ann%23', want: { code: 'abcdefghj', e2ee: true, key: KEY, name: 'Zoë & Ann#', autojoin: true, e2eePath: 'auto', lowVideo: false, simulcast: null, noiseOff: false } },
    { href: '/r/abcdefghj?e2ee=off#name=Bo', want: { code: 'abcdefghj', e2ee: false, key: '', name: 'Bo', autojoin: false, e2eePath: 'auto', lowVideo: false, simulcast: null, noiseOff: false } },
    // The name is never read from the query string: it would reach the server.
    { href: '/r/abcdefghj?name=Ann#' + KEY, want: { code: 'abcdefghj', e2ee: true, key: KEY, name: '', autojoin: false, e2eePath: 'auto', lowVideo: false, simulcast: null, noiseOff: false } },
    { href: '/r/abcdefghj?e2eepath=bogus#key=' + KEY, want: { code: 'abcdefghj', e2ee: true, key: KEY, name: '', autojoin: false, e2eePath: 'auto', lowVideo: false, simulcast: null, noiseOff: false } },
    { href: '/r/abcdefghj?video=low&simulcast=1&noise=off#' + KEY, want: { code: 'abcdefghj', e2ee: true, key: KEY, name: '', autojoin: false, e2eePath: 'auto', lowVideo: true, simulcast: true, noiseOff: true } },
    { href: '/r/abcdefghj?simulcast=0#' + KEY, want: { code: 'abcdefghj', e2ee: true, key: KEY, name: '', autojoin: false, e2eePath: 'auto', lowVideo: false, simulcast: false, noiseOff: false } },
    { href: '/r/abcdefghj', want: { code: 'abcdefghj', e2ee: true, key: '', name: '', autojoin: false, e2eePath: 'auto', lowVideo: false, simulcast: null, noiseOff: false } },
    // The key is never read from the query string.
    { href: '/r/abcdefghj?key=' + KEY, want: { code: 'abcdefghj', e2ee: true, key: '', name: '', autojoin: false, e2eePath: 'auto', lowVideo: false, simulcast: null, noiseOff: false } },
    { href: '/', want: null },
    { href: '/r/', want: null },
    { href: '/r/a/b', want: null },
    { href: '/x/abcdefghj', want: null },
  ];
  for (const c of cases) assert.deepEqual(parseRoomLink(loc(c.href)), c.want, c.href);
});

test('keyFromHash rejects malformed keys', () => {
  assert.equal(keyFromHash('#' + KEY), KEY);
  assert.equal(keyFromHash('#short'), '');
  assert.equal(keyFromHash('#' + KEY + '!'), '');
  assert.equal(keyFromHash(''), '');
  assert.equal(keyFromHash('#' + KEY + '&name=x'), KEY);
  assert.equal(keyFromHash('#name=x'), '');
});

test('name in the fragment: round trip, bad encoding', () => {
  for (const name of ['Ann', 'Zoë 👋 & co', 'a=b&c#d%', '  spaced  ']) {
    assert.equal(nameFromHash(joinFragment(KEY, name)), name.trim(), name);
    assert.equal(keyFromHash(joinFragment(KEY, name)), KEY, name);
    assert.equal(nameFromHash(joinFragment('', name)), name.trim(), name);
  }
  assert.equal(nameFromHash('#' + KEY + '&name=%E0%A4%A'), '');
  assert.equal(nameFromHash('#' + KEY), '');
  assert.equal(joinFragment(KEY, ''), '#' + KEY);
});

test('inviteLink', () => {
  assert.equal(inviteLink('https://m.example', 'abcdefghj', { e2ee: true, key: KEY }), 'https://m.example/r/abcdefghj#' + KEY);
  assert.equal(inviteLink('https://m.example', 'abcdefghj', { e2ee: false, key: '' }), 'https://m.example/r/abcdefghj?e2ee=off');
});

test('joinTarget', () => {
  const o = 'https://meet.example';
  assert.equal(joinTarget(' abcdefghj ', o), '/r/abcdefghj');
  assert.equal(joinTarget('abcdefghj#' + KEY, o), '/r/abcdefghj#' + KEY);
  assert.equal(joinTarget('https://meet.example/r/abcdefghj#' + KEY, o), '/r/abcdefghj#' + KEY);
  assert.equal(joinTarget('https://meet.example/r/abcdefghj?e2ee=off', o), '/r/abcdefghj?e2ee=off');
  assert.equal(joinTarget('https://evil.example/r/abcdefghj#' + KEY, o), null);
  assert.equal(joinTarget('https://meet.example/elsewhere', o), null);
  assert.equal(joinTarget('', o), null);
});

test('host links: the host key stays out of the key and the address bar', async () => {
  const { hostKeyFromHash, hashWithoutHostKey, hostLink } = await import('../static/js/host.js');
  const HK = 'q'.repeat(43);
  const link = hostLink(inviteLink('https://m.example', 'abcdefghj', { e2ee: true, key: KEY }), HK);
  assert.equal(link, 'https://m.example/r/abcdefghj#' + KEY + '&host=' + HK);
  const u = new URL(link);
  assert.equal(keyFromHash(u.hash), KEY);
  assert.equal(hostKeyFromHash(u.hash), HK);
  assert.equal(hashWithoutHostKey(u.hash), '#' + KEY);
  assert.equal(parseRoomLink(u)?.key, KEY);
  const plain = new URL(hostLink(inviteLink('https://m.example', 'abcdefghj', { e2ee: false, key: '' }), HK));
  assert.equal(hostKeyFromHash(plain.hash), HK);
  assert.equal(hashWithoutHostKey(plain.hash), '');
  assert.equal(hostKeyFromHash('#' + KEY), '');
  assert.equal(hostKeyFromHash('#' + KEY + '&host=short'), '');
});
