// The screen of a newcomer waiting in the lobby, until a host lets them
// in (the call then starts) or turns them away (the error screen).

import { h, mount } from './dom.js';

/**
 * @param {HTMLElement} root
 */
export function renderLobbyWait(root) {
  mount(root, h('main', { class: 'ended lobby-wait' },
    h('section', { class: 'ended-card', role: 'status', 'aria-live': 'polite', id: 'lobby-wait' },
      h('div', { class: 'spinner' }),
      h('h1', { text: 'Waiting for the host to let you in' }),
      h('p', { id: 'lobby-message', text: 'The host of this meeting lets people in one by one. They can see that you are here; you will join as soon as they admit you.' }),
      h('p', { class: 'hint', text: 'Your name is shown to the host encrypted end to end, like everything else in this meeting.' }),
      h('div', { class: 'row' }, h('a', { class: 'btn', href: '/', id: 'lobby-leave' }, 'Leave')))));
  const leave = root.querySelector('#lobby-leave');
  if (leave) /** @type {HTMLElement} */ (leave).focus({ preventScroll: true });
}
