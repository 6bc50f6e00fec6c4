// Entry point: "/" is the landing page, "/r/<code>" a meeting. Wires the
// link, the security setup, the pre-join screen and the call together.

import { parseRoomLink } from './link.js';
import { roomSecurity, SecurityError } from './secure.js';
import { capture } from './media.js';
import { Call } from './call.js';
import { JoinError } from './session.js';
import { ApiError } from './api.js';
import { installTestHook } from './testhook.js';
import { renderLanding } from './ui/landing.js';
import { renderPrejoin, rememberedName, rememberName } from './ui/prejoin.js';
import { renderCall, renderEnded } from './ui/callview.js';
import { renderLobbyWait } from './ui/lobby.js';
import { hostKeyFromHash, hashWithoutHostKey, rememberHostKey } from './host.js';
import { h, mount } from './ui/dom.js';

/** @type {import('./testhook.js').PageState} */
const state = { screen: 'landing', message: '', call: null };

/**
 * @param {HTMLElement} root
 * @param {string} title
 * @param {string} message
 * @param {() => void} [retry]
 */
function showError(root, title, message, retry) {
  state.screen = 'error';
  state.message = message;
  renderEnded(root, { title, message, error: true, rejoin: retry, rejoinLabel: 'Try again' });
}

/**
 * What this browser lacks for a call ('' when it has everything).
 * @returns {string}
 */
function missingFeature() {
  if (typeof RTCPeerConnection !== 'function') return 'WebRTC';
  if (typeof WebSocket !== 'function') return 'WebSocket';
  if (!globalThis.crypto || !crypto.subtle) return 'Web Crypto (open the page over https)';
  return '';
}

/**
 * Whether to send the camera as three simulcast layers: where the browser
 * does it well (Chromium) and the camera is large enough to be worth
 * splitting. ?simulcast=1/0 overrides.
 * @param {import('./link.js').RoomLink} link
 * @returns {boolean}
 */
function useSimulcast(link) {
  if (link.simulcast !== null) return link.simulcast;
  const chromium = /Chrom(e|ium)\//.test(navigator.userAgent) && !/Firefox\//.test(navigator.userAgent);
  return chromium && !link.lowVideo;
}

/**
 * A title and message for a failed join, saying what to do next.
 * @param {unknown} err
 * @returns {{title: string, message: string, retry: boolean}}
 */
function joinProblem(err) {
  const msg = err instanceof Error ? err.message : String(err);
  if (err instanceof JoinError) {
    if (err.code === 'room-full') return { title: 'This meeting is full', message: 'It has as many participants as it can take. Try again when someone leaves.', retry: true };
    if (err.code === 'network' || err.code === 'timeout') return { title: 'Cannot reach the server', message: 'The meeting server did not answer. Check your connection, then try again.', retry: true };
    if (err.code === 'e2ee-mismatch') return { title: 'Wrong kind of link', message: msg, retry: false };
    if (err.code === 'draining') return { title: 'The server is restarting', message: 'Try again in a moment.', retry: true };
    if (err.code === 'locked') return { title: 'This meeting is locked', message: msg, retry: true };
    if (err.code === 'removed') return { title: 'You were removed from this meeting', message: msg, retry: false };
    if (err.code === 'denied') return { title: 'The host did not let you in', message: msg, retry: false };
    if (err.code === 'lobby-full') return { title: 'Too many people are waiting', message: msg, retry: true };
  }
  if (err instanceof ApiError) {
    if (err.status === 0) return { title: 'Cannot reach the server', message: msg, retry: true };
    if (err.status === 404) return { title: 'Meeting not found', message: msg, retry: false };
  }
  return { title: 'Could not join', message: msg, retry: true };
}

/**
 * @param {HTMLElement} root
 * @param {import('./link.js').RoomLink} link
 */
async function runRoom(root, link) {
  document.title = 'Meeting ' + link.code + ' · MonkeyThorn Meet';
  // A host link: keep its host key in this browser and take it out of the
  // address bar, so a copied address is a plain invite.
  const hostKey = hostKeyFromHash(location.hash);
  if (hostKey) {
    rememberHostKey(link.code, hostKey);
    history.replaceState(null, '', location.pathname + location.search + hashWithoutHostKey(location.hash));
  }
  const missing = missingFeature();
  if (missing) {
    showError(root, 'This browser cannot join calls',
      'It lacks ' + missing + '. Use a current Chrome, Edge, Firefox or Safari.');
    return;
  }
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
  let speakerId = '';
  let noise = !link.noiseOff;
  if (link.autojoin) {
    name = link.name || rememberedName() || 'Guest';
    if (link.name) rememberName(link.name);
    ({ audio, video } = await capture({ audio: true, video: true, low: link.lowVideo }));
  } else {
    state.screen = 'prejoin';
    ({ name, audio, video, speakerId, noise } = await renderPrejoin(root, { code: link.code, e2ee: link.e2ee, name: link.name, lowVideo: link.lowVideo, noise }));
  }

  state.screen = 'joining';
  mount(root, h('main', { class: 'joining' }, h('div', { class: 'spinner' }), h('p', { text: 'Joining…' })));
  const call = new Call({ code: link.code, name, security, audio, video, lowVideo: link.lowVideo, simulcast: useSimulcast(link), noise, speakerId });
  state.call = call;
  call.on('ended', ({ reason, error }) => {
    state.screen = error ? 'error' : 'ended';
    state.message = reason;
    const removed = call.fatalCode === 'removed';
    renderEnded(root, {
      title: removed ? 'You were removed from this meeting' : error ? 'The call ended' : 'You left the meeting',
      message: reason, error, rejoin: removed ? undefined : () => location.reload(),
    });
  });
  call.on('waiting', () => {
    state.screen = 'lobby';
    renderLobbyWait(root);
  });
  try {
    await call.join();
  } catch (err) {
    call.leave();
    const p = joinProblem(err);
    showError(root, p.title, p.message, p.retry ? () => location.reload() : undefined);
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
