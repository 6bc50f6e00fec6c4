// The chat panel. Messages are sealed with the room key by the call
// controller; this only shows them, as text (never as HTML).

import { h } from './dom.js';
import { icon } from './icons.js';

/** @typedef {import('../call.js').ChatMessage} ChatMessage */

export class ChatPanel {
  /**
   * @param {(text: string) => Promise<void>} send
   * @param {() => void} close
   */
  constructor(send, close) {
    this.list = h('ol', { class: 'chat-list', 'aria-live': 'polite' });
    this.empty = h('p', { class: 'chat-empty', text: 'Messages are end-to-end encrypted with the meeting key and are gone when the meeting ends.' });
    this.input = h('input', { id: 'chat-input', type: 'text', maxlength: 4000, placeholder: 'Message everyone', autocomplete: 'off', 'aria-label': 'Chat message' });
    const form = h('form', { class: 'chat-form' }, this.input, h('button', { class: 'icon-btn', type: 'submit', id: 'chat-send', 'aria-label': 'Send' }, icon('send')));
    form.addEventListener('submit', async (ev) => {
      ev.preventDefault();
      const text = this.input.value;
      if (!text.trim()) return;
      this.input.value = '';
      await send(text);
    });
    this.el = h('aside', { class: 'chat-panel', 'aria-label': 'Chat' },
      h('header', { class: 'panel-head' }, h('h2', { text: 'Chat' }),
        h('button', { class: 'icon-btn', type: 'button', 'aria-label': 'Close chat', onclick: close }, icon('close'))),
      this.empty, this.list, form);
  }

  /**
   * @param {ChatMessage} m
   * @param {string} [encryptedNote] how to describe a message that could not be decrypted
   */
  add(m, encryptedNote = 'Message refused: it cannot be decrypted as coming from this person (a different key, or changed by the server)') {
    this.empty.hidden = true;
    const time = new Date(m.at).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' });
    const who = m.system ? '⚠ Security warning' : m.self ? 'You' : m.name || 'Unknown';
    const li = h('li', { class: 'chat-msg' + (m.self ? ' self' : '') + (m.readable ? '' : ' unreadable') + (m.system ? ' system' : '') },
      h('div', { class: 'chat-meta' }, h('span', { class: 'chat-from', text: who }), h('time', { text: time })),
      h('p', { class: 'chat-text', text: m.readable ? m.text : encryptedNote }));
    this.list.append(li);
    while (this.list.childElementCount > 500) this.list.firstElementChild?.remove();
    // Scroll only the list: scrollIntoView would also scroll the page.
    this.list.scrollTop = this.list.scrollHeight;
  }
}
