// The participant list: names, microphone, camera and screen state, and a
// pin button per person.

import { h } from './dom.js';
import { icon } from './icons.js';

/** @typedef {import('../call.js').Participant} Participant */

export class PeoplePanel {
  /**
   * @param {() => void} close
   * @param {(key: string) => void} pin
   */
  constructor(close, pin) {
    this._pin = pin;
    this.list = h('ul', { class: 'people-list', id: 'people-list' });
    this.title = h('h2', { text: 'People' });
    this.el = h('aside', { class: 'side-panel people-panel', 'aria-label': 'People' },
      h('header', { class: 'panel-head' }, this.title,
        h('button', { class: 'icon-btn', type: 'button', 'aria-label': 'Close participant list', onclick: close }, icon('close'))),
      this.list);
  }

  /**
   * Redraws the list: we come first, then the others in joining order.
   * @param {Iterable<Participant>} people
   * @param {string} pinned key of the pinned tile
   */
  render(people, pinned) {
    const all = [...people].sort((a, b) => Number(b.self) - Number(a.self));
    this.title.textContent = 'People (' + all.length + ')';
    this.list.replaceChildren(...all.map((p) => {
      const key = p.self ? 'self' : p.id;
      const name = p.nameUnreadable ? 'Unknown (name cannot be decrypted)' : p.name || 'Guest';
      const pinBtn = h('button', {
        class: 'icon-btn' + (pinned === key ? ' active' : ''), type: 'button', 'aria-pressed': pinned === key ? 'true' : 'false',
        'aria-label': (pinned === key ? 'Unpin ' : 'Pin ') + name,
      }, icon('pin'));
      pinBtn.addEventListener('click', () => this._pin(key));
      return h('li', { class: 'person', 'data-id': p.id },
        h('span', { class: 'person-name', text: p.self ? name + ' (you)' : name }),
        p.screen ? h('span', { class: 'person-state on', title: 'Sharing the screen', role: 'img', 'aria-label': 'Sharing the screen' }, icon('screen')) : null,
        h('span', { class: 'person-state' + (p.audioMuted ? ' off' : ''), role: 'img', 'aria-label': p.audioMuted ? 'Microphone off' : 'Microphone on' }, icon(p.audioMuted ? 'micOff' : 'mic')),
        h('span', { class: 'person-state' + (p.videoMuted ? ' off' : ''), role: 'img', 'aria-label': p.videoMuted ? 'Camera off' : 'Camera on' }, icon(p.videoMuted ? 'camOff' : 'cam')),
        pinBtn);
    }));
  }
}
