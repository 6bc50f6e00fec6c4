// One participant's tile in the grid: video (or an avatar), name label,
// microphone state, and a clear warning when their media cannot be
// decrypted with our key.

import { h, initials } from './dom.js';
import { icon } from './icons.js';

/** @typedef {import('../call.js').Participant} Participant */

export class Tile {
  /** @param {Participant} p */
  constructor(p) {
    this.id = p.id;
    this.video = h('video', { autoplay: true, playsinline: true, muted: true, class: p.self ? 'mirror' : undefined });
    // Muted as a property too: the attribute alone does not mute in every browser.
    this.video.muted = true;
    /** Remote audio plays from its own element so it keeps playing with the camera off. */
    this.audio = p.self ? null : h('audio', { autoplay: true });
    this.avatar = h('div', { class: 'avatar' }, h('span'));
    this.nameEl = h('span', { class: 'tile-name' });
    this.micEl = h('span', { class: 'tile-mic', title: 'Microphone off' }, icon('micOff'));
    this.alert = h('div', { class: 'tile-alert', role: 'status' },
      icon('lockBroken'),
      h('strong', { text: 'Cannot decrypt — different key?' }),
      h('span', { text: 'This person joined with a different link key. Compare safety codes and share the invite link again.' }));
    this.el = h('div', { class: 'tile', 'data-id': p.id },
      this.video, this.avatar, this.alert,
      h('div', { class: 'tile-label' }, this.micEl, this.nameEl),
      this.audio);
    /** @type {MediaStreamTrack|null} */
    this._videoTrack = null;
    /** @type {MediaStreamTrack|null} */
    this._audioTrack = null;
    this.update(p);
  }

  /** @param {Participant} p */
  update(p) {
    const name = p.nameUnreadable ? 'Unknown (name cannot be decrypted)' : p.name || 'Guest';
    this.nameEl.textContent = p.self ? name + ' (you)' : name;
    const first = this.avatar.firstElementChild;
    if (first) first.textContent = p.nameUnreadable ? '?' : initials(p.name || 'Guest');
    this.micEl.hidden = !p.audioMuted;
    const failing = p.decrypt === 'failing';
    this.el.classList.toggle('decrypt-failing', failing);
    this.el.classList.toggle('speaking', p.speaking && !p.audioMuted);
    this.alert.hidden = !failing;
    const showVideo = !!p.video && !p.videoMuted && !failing;
    this.el.classList.toggle('no-video', !showVideo);
    if (p.video !== this._videoTrack) {
      this._videoTrack = p.video;
      this.video.srcObject = p.video ? new MediaStream([p.video]) : null;
    }
    if (this.audio && p.audio !== this._audioTrack) {
      this._audioTrack = p.audio;
      this.audio.srcObject = p.audio ? new MediaStream([p.audio]) : null;
      // Autoplay may be refused until the page had a click; the Join click
      // usually counts. Retry on the next click anywhere if not.
      const a = this.audio;
      if (p.audio) {
        a.play().catch(() => document.addEventListener('click', () => void a.play().catch(() => {}), { once: true }));
      }
    }
  }

  remove() {
    this.video.srcObject = null;
    if (this.audio) this.audio.srcObject = null;
    this.el.remove();
  }
}
