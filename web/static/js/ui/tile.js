// One tile: a participant's camera (or avatar) or their shared screen, with
// name label, microphone state, connection quality, a pin button and a
// clear warning when their media cannot be decrypted with our key.

import { h, initials } from './dom.js';
import { icon } from './icons.js';
import { setSpeaker } from '../devices.js';

/** @typedef {import('../call.js').Participant} Participant */

/**
 * What a tile says when a participant's media is refused, by the E2EE
 * worker's drop reason (docs/e2ee.md §8): a title and what it means.
 * @type {Record<string, [string, string]>}
 */
const PROBLEM_TEXT = {
  key: ['Cannot decrypt — different key?', 'This person joined with a different link key. Compare safety codes and share the invite link again.'],
  replay: ['Replayed media refused', 'The server sent frames this person had sent before. Nothing of it is shown or played.'],
  injected: ['Muted by the server', 'The server sent frames that are not from this person. Nothing of it is played.'],
  unverified: ['Not verified', 'No fresh sealed profile of this person: their media cannot be checked as theirs now, so it is not shown.'],
  invalid: ['Media refused', 'The server sent a track that is not valid encrypted media of this person. Nothing of it is shown or played.'],
};

/**
 * @param {Participant} p
 * @returns {[string, string]}
 */
function problemText(p) {
  const r = p.problem;
  if (r === 'replay' || r === 'injected') return PROBLEM_TEXT[r];
  if (r === 'unverified') return p.nameUnreadable ? PROBLEM_TEXT.key : PROBLEM_TEXT.unverified;
  // A name we could read means we hold the key: frames that still fail
  // were not what the server announced (moved, relabelled).
  if (r === 'auth' || r === 'unknown-key') return p.nameUnreadable || !p.name ? PROBLEM_TEXT.key : PROBLEM_TEXT.invalid;
  return PROBLEM_TEXT.invalid;
}

const QUALITY_TEXT = { good: 'Good connection', fair: 'Unstable connection', poor: 'Poor connection', unknown: 'Connection quality unknown' };

export class Tile {
  /**
   * @param {Participant} p
   * @param {{screen?: boolean, onPin: (key: string) => void}} o
   */
  constructor(p, o) {
    this.id = p.id;
    this.screen = !!o.screen;
    /** "self", the participant id, or "<id>:screen": stable across our own reconnects. */
    this.key = (p.self ? 'self' : p.id) + (this.screen ? ':screen' : '');
    this.self = p.self;
    this.video = h('video', { autoplay: true, playsinline: true, muted: true, class: p.self && !this.screen ? 'mirror' : undefined });
    // Muted as a property too: the attribute alone does not mute in every browser.
    this.video.muted = true;
    /** Remote audio plays from its own element so it keeps playing with the camera off. */
    this.audio = p.self || this.screen ? null : h('audio', { autoplay: true });
    this.avatar = h('div', { class: 'avatar' }, h('span'));
    this.nameEl = h('span', { class: 'tile-name' });
    this.micEl = h('span', { class: 'tile-mic', title: 'Microphone off', role: 'img', 'aria-label': 'Microphone off' }, icon('micOff'));
    this.qualityEl = h('span', { class: 'tile-quality', role: 'img' }, h('i'), h('i'), h('i'));
    this.handEl = h('span', { class: 'tile-hand', title: 'Hand raised', role: 'img', 'aria-label': 'Hand raised' }, icon('hand'));
    this.pinBtn = h('button', { class: 'tile-pin', type: 'button' }, icon('pin'));
    this.pinBtn.addEventListener('click', () => o.onPin(this.key));
    this.alertTitle = h('strong', { text: PROBLEM_TEXT.key[0] });
    this.alertText = h('span', { text: PROBLEM_TEXT.key[1] });
    this.alert = h('div', { class: 'tile-alert', role: 'status' }, icon('lockBroken'), this.alertTitle, this.alertText);
    this.el = h('div', { class: 'tile' + (this.screen ? ' screen' : ''), 'data-id': p.id, 'data-key': this.key, role: 'group' },
      this.video, this.avatar, this.alert,
      h('div', { class: 'tile-label' }, this.screen ? null : this.handEl, this.screen ? icon('screen') : this.micEl, this.nameEl, this.screen ? null : this.qualityEl),
      this.pinBtn,
      this.audio);
    /** @type {MediaStreamTrack|null} */
    this._videoTrack = null;
    /** @type {MediaStreamTrack|null} */
    this._audioTrack = null;
    this.pinned = false;
    this.pending = false;
    this.update(p);
  }

  /** @param {Participant} p */
  update(p) {
    this.id = p.id;
    this.el.dataset.id = p.id;
    const base = p.nameUnreadable ? 'Unknown (name cannot be decrypted)' : p.name || 'Guest';
    const name = this.screen ? (p.self ? 'Your screen' : base + '’s screen') : p.self ? base + ' (you)' : base;
    this.nameEl.textContent = name;
    this.el.setAttribute('aria-label', name);
    const first = this.avatar.firstElementChild;
    if (first) first.textContent = p.nameUnreadable ? '?' : initials(p.name || 'Guest');
    this.micEl.hidden = !p.audioMuted;
    this.handEl.hidden = !p.handRaised;
    this.el.classList.toggle('hand-raised', !this.screen && p.handRaised);
    this.qualityEl.dataset.q = p.quality;
    this.qualityEl.title = QUALITY_TEXT[p.quality];
    this.qualityEl.setAttribute('aria-label', QUALITY_TEXT[p.quality]);
    const failing = p.decrypt === 'failing';
    this.el.classList.toggle('decrypt-failing', failing);
    this.el.classList.toggle('speaking', !this.screen && p.speaking && !p.audioMuted);
    this.alert.hidden = !failing;
    if (failing) {
      const [title, text] = problemText(p);
      this.alertTitle.textContent = title;
      this.alertText.textContent = text;
      this.el.dataset.problem = p.problem;
    } else {
      delete this.el.dataset.problem;
    }
    const track = this.screen ? p.screen : p.video;
    const showVideo = !!track && (this.screen || !p.videoMuted) && !failing;
    this.el.classList.toggle('no-video', !showVideo);
    // A track that arrived but does not authenticate (yet) is not shown,
    // but the server must keep sending it, or it never can.
    this.pending = !showVideo && (this.screen ? p.screenPending : p.videoPending && !p.videoMuted);
    if (track !== this._videoTrack) {
      this._videoTrack = track;
      this.video.srcObject = track ? new MediaStream([track]) : null;
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

  /** @param {boolean} on */
  setPinned(on) {
    this.pinned = on;
    this.el.classList.toggle('pinned', on);
    const who = this.nameEl.textContent || 'this tile';
    this.pinBtn.setAttribute('aria-label', (on ? 'Unpin ' : 'Pin ') + who);
    this.pinBtn.setAttribute('aria-pressed', on ? 'true' : 'false');
    this.pinBtn.title = on ? 'Unpin' : 'Pin to the main stage';
  }

  /**
   * Plays this tile's sound on the chosen output.
   * @param {string} sinkId
   */
  setSink(sinkId) {
    if (this.audio) void setSpeaker(this.audio, sinkId);
  }

  remove() {
    this.video.srcObject = null;
    if (this.audio) this.audio.srcObject = null;
    this.el.remove();
  }
}
