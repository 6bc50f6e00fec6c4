// The participant list: names, hosts, raised hands, microphone, camera and
// screen state, and a pin button per person. For a host it also holds the
// host controls: lock, lobby, mute everyone else, the lobby queue with
// admit and deny, and per person ask to mute, make host and remove. Every
// control is a real button with an accessible name, so it works from the
// keyboard; focus stays on the same control when the list is redrawn.

import { h } from './dom.js';
import { icon } from './icons.js';

/** @typedef {import('../call.js').Participant} Participant */
/** @typedef {import('../call.js').Waiter} Waiter */

/**
 * What the panel's buttons do.
 * @typedef {object} PeopleActions
 * @property {(key: string) => void} pin
 * @property {(raised: boolean) => void} hand
 * @property {(locked: boolean) => void} lock
 * @property {(on: boolean) => void} lobby
 * @property {(id: string, name: string) => void} remove asks for confirmation first
 * @property {(id: string) => void} askMute '' = everyone else
 * @property {(id: string) => void} makeHost
 * @property {(id: string) => void} admit
 * @property {(id: string) => void} deny
 * @property {() => void} copyHostLink
 */

/**
 * What the panel shows besides the people.
 * @typedef {object} PeopleView
 * @property {string} pinned key of the pinned tile
 * @property {import('../session.js').MeetingState} meeting
 * @property {boolean} isHost
 * @property {Waiter[]} lobby
 * @property {boolean} hasHostKey this browser holds the host key (it can copy a host link)
 */

/**
 * The name to show for a participant or waiter.
 * @param {{name: string, nameUnreadable: boolean}} p
 * @returns {string}
 */
export function shownName(p) {
  return p.nameUnreadable ? 'Unknown (name cannot be decrypted)' : p.name || 'Guest';
}

export class PeoplePanel {
  /**
   * @param {() => void} close
   * @param {PeopleActions} actions
   */
  constructor(close, actions) {
    this._a = actions;
    this.list = h('ul', { class: 'people-list', id: 'people-list' });
    this.hostBar = h('section', { class: 'host-bar', id: 'host-controls', 'aria-label': 'Host controls' });
    this.lobbyBox = h('section', { class: 'lobby-box', id: 'lobby-list', 'aria-label': 'Waiting to join' });
    this.title = h('h2', { text: 'People' });
    this.el = h('aside', { class: 'side-panel people-panel', 'aria-label': 'People' },
      h('header', { class: 'panel-head' }, this.title,
        h('button', { class: 'icon-btn', type: 'button', 'aria-label': 'Close participant list', onclick: close }, icon('close'))),
      this.hostBar, this.lobbyBox, this.list);
  }

  /**
   * Redraws the panel: we come first, then the others in joining order.
   * @param {Iterable<Participant>} people
   * @param {PeopleView} v
   */
  render(people, v) {
    const focused = /** @type {HTMLElement|null} */ (document.activeElement);
    const fk = focused && this.el.contains(focused) ? focused.dataset.fk || '' : '';
    const all = [...people].sort((a, b) => Number(b.self) - Number(a.self));
    this.title.textContent = 'People (' + all.length + ')';
    this._renderHostBar(v);
    this._renderLobby(v);
    this.list.replaceChildren(...all.map((p) => this._row(p, v)));
    if (fk) {
      const again = /** @type {HTMLElement|null} */ (this.el.querySelector('[data-fk="' + CSS.escape(fk) + '"]'));
      if (again) again.focus({ preventScroll: true });
    }
  }

  /** @param {PeopleView} v */
  _renderHostBar(v) {
    const m = v.meeting;
    if (!v.isHost) {
      // Everyone sees how the meeting is set; only hosts change it.
      const notes = [];
      if (m.locked) notes.push(h('span', { class: 'meeting-flag', id: 'meeting-locked' }, icon('lock'), 'Locked by the host'));
      if (m.lobby) notes.push(h('span', { class: 'meeting-flag' }, icon('door'), 'Lobby on: the host lets people in'));
      this.hostBar.replaceChildren(...notes);
      this.hostBar.hidden = notes.length === 0;
      return;
    }
    this.hostBar.hidden = false;
    // The names stay the same; aria-pressed says whether each is on.
    const lock = toggle('host-lock', m.locked, m.locked ? 'lock' : 'unlock', m.locked ? 'Locked' : 'Lock',
      'Lock the meeting (nobody new can join)', () => this._a.lock(!m.locked));
    const lobby = toggle('host-lobby', m.lobby, 'door', m.lobby ? 'Lobby on' : 'Lobby',
      'Lobby (newcomers wait until a host lets them in)', () => this._a.lobby(!m.lobby));
    const muteAll = h('button', { class: 'chip-btn', type: 'button', id: 'host-mute-all', 'data-fk': 'host-mute-all', 'aria-label': 'Ask everyone else to mute' },
      icon('micOff'), 'Mute all');
    muteAll.addEventListener('click', () => this._a.askMute(''));
    let hostLink = null;
    if (v.hasHostKey) {
      hostLink = h('button', { class: 'chip-btn', type: 'button', id: 'host-link', 'data-fk': 'host-link', 'aria-label': 'Copy the host link (makes its opener a host)' },
        icon('link'), 'Host link');
      hostLink.addEventListener('click', () => this._a.copyHostLink());
    }
    this.hostBar.replaceChildren(h('h3', { class: 'host-title' }, icon('crown'), 'You are a host'), h('div', { class: 'host-row' }, lock, lobby, muteAll, hostLink));
  }

  /** @param {PeopleView} v */
  _renderLobby(v) {
    if (!v.isHost || v.lobby.length === 0) {
      this.lobbyBox.hidden = true;
      this.lobbyBox.replaceChildren();
      return;
    }
    this.lobbyBox.hidden = false;
    this.lobbyBox.replaceChildren(
      h('h3', { text: 'Waiting to join (' + v.lobby.length + ')' }),
      h('ul', { class: 'people-list lobby-list' }, ...v.lobby.map((w) => {
        const name = shownName(w);
        const admit = h('button', { class: 'btn btn-small btn-primary', type: 'button', 'data-fk': 'admit:' + w.id, 'aria-label': 'Admit ' + name }, 'Admit');
        const deny = h('button', { class: 'btn btn-small', type: 'button', 'data-fk': 'deny:' + w.id, 'aria-label': 'Deny ' + name }, 'Deny');
        admit.addEventListener('click', () => this._a.admit(w.id));
        deny.addEventListener('click', () => this._a.deny(w.id));
        return h('li', { class: 'person waiter', 'data-id': w.id }, h('span', { class: 'person-name', text: name }), admit, deny);
      })));
  }

  /**
   * @param {Participant} p
   * @param {PeopleView} v
   */
  _row(p, v) {
    const key = p.self ? 'self' : p.id;
    const name = shownName(p);
    const pinBtn = this._btn('pin:' + key, icon('pin'), (v.pinned === key ? 'Unpin ' : 'Pin ') + name, () => this._a.pin(key));
    pinBtn.classList.toggle('active', v.pinned === key);
    pinBtn.setAttribute('aria-pressed', v.pinned === key ? 'true' : 'false');
    /** @type {(HTMLElement|null)[]} */
    const controls = [];
    if (p.self) {
      const b = this._btn('hand:self', icon('hand'), p.handRaised ? 'Lower your hand' : 'Raise your hand', () => this._a.hand(!p.handRaised));
      b.setAttribute('aria-pressed', p.handRaised ? 'true' : 'false');
      b.classList.toggle('active', p.handRaised);
      controls.push(b);
    } else if (v.isHost) {
      controls.push(
        this._btn('mute:' + p.id, icon('micOff'), 'Ask ' + name + ' to mute', () => this._a.askMute(p.id), p.audioMuted),
        p.host ? null : this._btn('host:' + p.id, icon('crown'), 'Make ' + name + ' host', () => this._a.makeHost(p.id)),
        this._btn('remove:' + p.id, icon('userRemove'), 'Remove ' + name + ' from the meeting', () => this._a.remove(p.id, name), false, 'danger'));
    }
    return h('li', { class: 'person', 'data-id': p.id },
      h('span', { class: 'person-name', text: p.self ? name + ' (you)' : name }),
      p.host ? h('span', { class: 'person-badge', text: 'Host' }) : null,
      p.handRaised ? h('span', { class: 'person-state hand', role: 'img', 'aria-label': 'Hand raised', title: 'Hand raised' }, icon('hand')) : null,
      p.screen ? h('span', { class: 'person-state on', title: 'Sharing the screen', role: 'img', 'aria-label': 'Sharing the screen' }, icon('screen')) : null,
      h('span', { class: 'person-state' + (p.audioMuted ? ' off' : ''), role: 'img', 'aria-label': p.audioMuted ? 'Microphone off' : 'Microphone on' }, icon(p.audioMuted ? 'micOff' : 'mic')),
      h('span', { class: 'person-state' + (p.videoMuted ? ' off' : ''), role: 'img', 'aria-label': p.videoMuted ? 'Camera off' : 'Camera on' }, icon(p.videoMuted ? 'camOff' : 'cam')),
      ...controls,
      pinBtn);
  }

  /**
   * @param {string} fk focus key, stable across redraws
   * @param {SVGSVGElement} ic
   * @param {string} label accessible name (also the tooltip)
   * @param {() => void} fn
   * @param {boolean} [disabled]
   * @param {string} [extra] class
   */
  _btn(fk, ic, label, fn, disabled = false, extra = '') {
    const b = h('button', { class: 'icon-btn ' + extra, type: 'button', 'data-fk': fk, 'aria-label': label, title: label, disabled }, ic);
    b.addEventListener('click', fn);
    return b;
  }
}

/**
 * A host toggle: a button whose aria-pressed says whether it is on.
 * @param {string} id
 * @param {boolean} on
 * @param {string} iconName
 * @param {string} text
 * @param {string} label
 * @param {() => void} fn
 */
function toggle(id, on, iconName, text, label, fn) {
  const b = h('button', { class: 'chip-btn' + (on ? ' on' : ''), type: 'button', id, 'data-fk': id, 'aria-pressed': on ? 'true' : 'false', 'aria-label': label, title: label },
    icon(iconName), text);
  b.addEventListener('click', fn);
  return b;
}
