// Entry point: "/" is the landing page, "/r/<code>" a meeting. Wires the
// link, the security setup, the pre-join screen and the call together.

import { parseRoomLink } from './link.js';
import { roomSecurity, SecurityError } from './secure.js';
import { capture } from './media.js';
import { Call } from './call.js';
import { installTestHook } from './testhook.js';
import { renderLanding } from './ui/landing.js';
import { renderPrejoin, rememberedName, rememberName } from './ui/prejoin.js';
import { renderCall, renderEnded } from './ui/callview.js';
import { h, mount } from './ui/dom.js';

/** @type {import('./testhook.js').PageState} */
const state = { screen: 'landing', message: '', call: null };

/**
 * @param {HTMLElement} root
 * @param {string} title
 * @param {string} message
 */
function showError(root, title, message) {
  state.screen = 'error';
  state.message = message;
  renderEnded(root, { title, message, error: true });
}

/**
 * @param {HTMLElement} root
 * @param {import('./link.js').RoomLink} link
 */
async function runRoom(root, link) {
  document.title = 'Meeting ' + link.code + ' · MonkeyThorn Meet';
  if (link.e2ee && !link.key) {
    showError(root, 'This link is missing its key',
      'This meeting is end-to-end encrypted, and its key travels in the part of the link after "#". ' +
      'That part is missing here: ask for the full invite link and open it again.');
    return;
  }
  let security;
  try {
    security = await roomSecurity({ code: link.code, e2ee: link.e2ee, key: link.key, path: link.e2eePath });
  } catch (err) {
    const title = err instanceof SecurityError && err.code === 'unsupported' ? 'This browser cannot join encrypted meetings' : 'Cannot open this meeting';
    showError(root, title, err instanceof Error ? err.message : String(err));
    return;
  }

  let name, audio, video;
  if (link.autojoin) {
    name = link.name || rememberedName() || 'Guest';
    if (link.name) rememberName(link.name);
    ({ audio, video } = await capture({ audio: true, video: true, low: link.lowVideo }));
  } else {
    state.screen = 'prejoin';
    ({ name, audio, video } = await renderPrejoin(root, { code: link.code, e2ee: link.e2ee, name: link.name, lowVideo: link.lowVideo }));
  }

  state.screen = 'joining';
  mount(root, h('main', { class: 'joining' }, h('div', { class: 'spinner' }), h('p', { text: 'Joining…' })));
  const call = new Call({ code: link.code, name, security, audio, video, lowVideo: link.lowVideo });
  state.call = call;
  call.on('ended', ({ reason, error }) => {
    state.screen = error ? 'error' : 'ended';
    state.message = reason;
    renderEnded(root, { title: error ? 'The call ended' : 'You left the meeting', message: reason, error, rejoin: () => location.reload() });
  });
  try {
    await call.join();
  } catch (err) {
    call.leave();
    showError(root, 'Could not join', err instanceof Error ? err.message : String(err));
    return;
  }
  state.screen = 'call';
  renderCall(root, call, link);
  addEventListener('pagehide', () => call.leave(), { once: true });
}

function main() {
  const root = /** @type {HTMLElement} */ (document.getElementById('app'));
  installTestHook(state);
  const link = parseRoomLink(location);
  if (link) {
    void runRoom(root, link);
    return;
  }
  if (location.pathname === '/') {
    renderLanding(root, (path) => location.assign(path));
    return;
  }
  showError(root, 'Page not found', 'There is no meeting at this address.');
}

main();
