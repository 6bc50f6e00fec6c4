// The home page: start a meeting (encrypted by default, or explicitly
// without encryption) or join one by code or link.

import { h, mount } from './dom.js';
import { icon } from './icons.js';
import { createRoom } from '../api.js';
import { newLinkKey } from '../secure.js';
import { joinTarget } from '../link.js';
import { billingPanel } from '../billing.js';

/**
 * @param {HTMLElement} root
 * @param {(path: string) => void} navigate
 */
export function renderLanding(root, navigate) {
  const error = h('p', { class: 'form-error', role: 'alert' });
  const newBtn = h('button', { class: 'btn btn-primary btn-large', type: 'button', id: 'new-meeting' }, icon('plus'), 'New meeting');
  const plainBtn = h('button', { class: 'btn-link', type: 'button', id: 'new-meeting-plain' }, 'Create a meeting without end-to-end encryption');

  /** @param {boolean} e2ee */
  const start = async (e2ee) => {
    newBtn.disabled = true;
    plainBtn.disabled = true;
    error.textContent = '';
    try {
      // Key first: if it cannot be made there is no point creating a room.
      const key = e2ee ? await newLinkKey() : '';
      const code = await createRoom(e2ee);
      navigate(e2ee ? '/r/' + code + '#' + key : '/r/' + code + '?e2ee=off');
    } catch (err) {
      error.textContent = err instanceof Error ? err.message : String(err);
      newBtn.disabled = false;
      plainBtn.disabled = false;
    }
  };
  newBtn.addEventListener('click', () => void start(true));
  plainBtn.addEventListener('click', () => {
    const ok = confirm(
      'Without end-to-end encryption, the server operator could see and hear the meeting.\n\n' +
      'Use this only for browsers that cannot encrypt. Create an unencrypted meeting?');
    if (ok) void start(false);
  });

  const joinInput = h('input', {
    id: 'join-input', type: 'text', placeholder: 'Meeting code or link', autocomplete: 'off', spellcheck: 'false', 'aria-label': 'Meeting code or link',
  });
  const joinForm = h('form', { class: 'join-form' }, joinInput, h('button', { class: 'btn', type: 'submit' }, 'Join'));
  joinForm.addEventListener('submit', (ev) => {
    ev.preventDefault();
    const target = joinTarget(joinInput.value, location.origin);
    if (!target) {
      error.textContent = 'That is not a meeting code or a link to a meeting on this server.';
      return;
    }
    navigate(target);
  });

  mount(root, h('main', { class: 'landing' },
    h('section', { class: 'landing-card' },
      h('div', { class: 'brand' }, h('span', { class: 'brand-mark' }), h('span', { text: 'MonkeyThorn Meet' })),
      h('h1', { text: 'Private video meetings' }),
      h('p', { class: 'lead' }, 'End-to-end encrypted by default. The key is made in your browser and travels only in the link, after the "#": the server never sees it.'),
      newBtn,
      h('div', { class: 'divider' }, h('span', { text: 'or join one' })),
      joinForm,
      error,
      h('div', { class: 'plain-option' },
        plainBtn,
        h('p', { class: 'hint', text: 'Not recommended: the server could read the audio, video and chat of such a meeting.' })),
      billingPanel(),
    ),
  ));
  newBtn.focus();
}
