import { test } from 'node:test';
import assert from 'node:assert/strict';
import { shortcutFor, SHORTCUTS } from '../static/js/ui/shortcuts.js';

const key = (k, o = {}) => ({ key: k, shiftKey: false, ctrlKey: false, metaKey: false, altKey: false, target: null, ...o });

test('shortcutFor', () => {
  assert.equal(shortcutFor(key('m')), 'mic');
  assert.equal(shortcutFor(key('M')), 'mic');
  assert.equal(shortcutFor(key('v')), 'camera');
  assert.equal(shortcutFor(key('?', { shiftKey: true })), 'help');
  assert.equal(shortcutFor(key('L', { shiftKey: true })), 'leave');
  assert.equal(shortcutFor(key('l')), '', 'leaving needs Shift');
  assert.equal(shortcutFor(key('M', { shiftKey: true })), '');
  assert.equal(shortcutFor(key('m', { ctrlKey: true })), '', 'browser shortcuts stay the browser’s');
  assert.equal(shortcutFor(key('m', { target: { tagName: 'INPUT' } })), '', 'typing in chat');
  assert.equal(shortcutFor(key('m', { target: { tagName: 'DIV', isContentEditable: true } })), '');
  assert.equal(shortcutFor(key('Enter')), '');
  assert.equal(shortcutFor(key('x')), '');
});

test('every listed shortcut maps back to its action', () => {
  for (const s of SHORTCUTS) {
    const shift = s.keys.startsWith('Shift+');
    const k = shift ? s.keys.slice(6) : s.keys;
    assert.equal(shortcutFor(key(k, { shiftKey: shift || k === '?' })), s.action, s.keys);
  }
});
