// The screen before joining: name, camera and microphone preview, Join.

import { h, mount } from './dom.js';
import { icon } from './icons.js';
import { capture } from '../media.js';
import { meterLevel, deviceOf, setSpeaker } from '../devices.js';
import { devicePicker } from './devicepicker.js';

export const NAME_KEY = 'meet.name';

/**
 * @typedef {object} PrejoinResult
 * @property {string} name
 * @property {MediaStreamTrack|null} audio
 * @property {MediaStreamTrack|null} video
 * @property {string} speakerId chosen audio output ('' = default)
 * @property {boolean} noise noise suppression on
 */

/**
 * The remembered display name ('' if none or storage is blocked).
 * @returns {string}
 */
export function rememberedName() {
  try {
    return localStorage.getItem(NAME_KEY) || '';
  } catch {
    return '';
  }
}

/** @param {string} name */
export function rememberName(name) {
  try {
    localStorage.setItem(NAME_KEY, name);
  } catch {
    // Private mode or storage disabled: the name is simply not remembered.
  }
}

/**
 * Shows the pre-join screen and resolves when the user presses Join.
 * @param {HTMLElement} root
 * @param {{code: string, e2ee: boolean, name: string, lowVideo: boolean, noise: boolean}} room
 * @returns {Promise<PrejoinResult>}
 */
export function renderPrejoin(root, room) {
  return new Promise((resolve) => {
    /** @type {MediaStreamTrack|null} */
    let audio = null;
    /** @type {MediaStreamTrack|null} */
    let video = null;
    let micOn = true;
    let camOn = true;
    let audioId = '';
    let videoId = '';
    let speakerId = '';
    let noiseOn = room.noise;
    /** @type {() => void} */
    let stopMeter = () => {};
    const meterBar = h('span', { class: 'meter-bar' });
    const meter = h('div', { class: 'mic-meter', id: 'mic-meter', role: 'meter', 'aria-label': 'Microphone level', 'aria-valuemin': 0, 'aria-valuemax': 100, 'aria-valuenow': 0 }, icon('mic'), h('span', { class: 'meter-track' }, meterBar));
    const startMeter = () => {
      stopMeter();
      meterBar.style.width = '0%';
      if (!audio || !micOn) return;
      stopMeter = meterLevel(audio, (lvl) => {
        const pct = Math.round(lvl * 100);
        meterBar.style.width = pct + '%';
        meter.setAttribute('aria-valuenow', String(pct));
      });
    };
    const testSound = h('audio', {});

    const preview = h('video', { class: 'preview-video mirror', autoplay: true, playsinline: true, muted: true });
    preview.muted = true;
    const placeholder = h('div', { class: 'preview-off', text: 'Starting camera…' });
    const problem = h('p', { class: 'form-error', role: 'alert' });
    const micBtn = h('button', { class: 'round-btn', type: 'button', 'aria-label': 'Turn microphone off', 'aria-pressed': 'true' }, icon('mic'));
    const camBtn = h('button', { class: 'round-btn', type: 'button', 'aria-label': 'Turn camera off', 'aria-pressed': 'true' }, icon('cam'));

    const refresh = () => {
      const tracks = /** @type {MediaStreamTrack[]} */ ([video].filter(Boolean));
      preview.srcObject = tracks.length ? new MediaStream(tracks) : null;
      placeholder.hidden = !!video;
      micBtn.replaceChildren(icon(micOn ? 'mic' : 'micOff'));
      micBtn.classList.toggle('off', !micOn);
      micBtn.setAttribute('aria-label', micOn ? 'Turn microphone off' : 'Turn microphone on');
      camBtn.replaceChildren(icon(camOn ? 'cam' : 'camOff'));
      camBtn.classList.toggle('off', !camOn);
      camBtn.setAttribute('aria-label', camOn ? 'Turn camera off' : 'Turn camera on');
      startMeter();
      void picker.refresh({ videoId: deviceOf(video) || videoId, audioId: deviceOf(audio) || audioId, speakerId, noise: noiseOn });
    };

    const picker = devicePicker({ videoId, audioId, speakerId, noise: noiseOn }, {
      camera: async (id) => {
        videoId = id;
        if (!camOn) return;
        const c = await capture({ audio: false, video: true, low: room.lowVideo, videoId: id });
        if (!c.video) {
          problem.textContent = c.problem;
          return;
        }
        if (video) video.stop();
        video = c.video;
        refresh();
      },
      microphone: async (id) => {
        audioId = id;
        if (!micOn) return;
        const c = await capture({ audio: true, video: false, audioId: id });
        if (!c.audio) {
          problem.textContent = c.problem;
          return;
        }
        if (audio) audio.stop();
        audio = c.audio;
        refresh();
      },
      speaker: (id) => {
        speakerId = id;
        void setSpeaker(testSound, id);
      },
      noise: (on) => {
        noiseOn = on;
      },
    });

    const open = async () => {
      const c = await capture({ audio: micOn, video: camOn, low: room.lowVideo });
      audio = c.audio;
      video = c.video;
      problem.textContent = c.problem;
      placeholder.textContent = 'Camera is off';
      if (!audio) micOn = false;
      if (!video) camOn = false;
      refresh();
    };

    micBtn.addEventListener('click', async () => {
      micOn = !micOn;
      if (micOn && !audio) {
        const c = await capture({ audio: true, video: false, audioId });
        audio = c.audio;
        problem.textContent = c.problem;
        micOn = !!audio;
      }
      if (audio) audio.enabled = micOn;
      refresh();
    });
    camBtn.addEventListener('click', async () => {
      camOn = !camOn;
      if (camOn && !video) {
        const c = await capture({ audio: false, video: true, low: room.lowVideo, videoId });
        video = c.video;
        problem.textContent = c.problem;
        camOn = !!video;
      } else if (!camOn && video) {
        video.stop();
        video = null;
      }
      refresh();
    });

    const nameInput = h('input', {
      id: 'name-input', type: 'text', maxlength: 64, placeholder: 'Your name', autocomplete: 'name', required: true, 'aria-label': 'Your name',
    });
    nameInput.value = room.name || rememberedName();
    const joinBtn = h('button', { class: 'btn btn-primary btn-large', type: 'submit', id: 'join-button' }, 'Join meeting');
    const form = h('form', { class: 'prejoin-form' },
      h('h1', { text: 'Ready to join?' }),
      h('p', { class: 'room-code' }, 'Meeting ', h('code', { text: room.code })),
      room.e2ee
        ? h('p', { class: 'badge badge-secure' }, icon('lock'), 'End-to-end encrypted')
        : h('p', { class: 'badge badge-warn' }, icon('unlock'), 'Not end-to-end encrypted'),
      h('label', { for: 'name-input', class: 'label', text: 'Your name' }),
      nameInput,
      joinBtn,
      problem,
      h('details', { class: 'devices', open: true }, h('summary', { text: 'Camera, microphone and speaker' }), picker.el),
    );
    form.addEventListener('submit', async (ev) => {
      ev.preventDefault();
      // Joining before the devices opened would join without them.
      await opening;
      const name = nameInput.value.trim();
      if (!name) {
        nameInput.focus();
        return;
      }
      rememberName(name);
      joinBtn.disabled = true;
      if (audio) audio.enabled = micOn;
      stopMeter();
      resolve({ name, audio: micOn ? audio : (audio && stopped(audio)), video, speakerId, noise: noiseOn });
    });

    mount(root, h('main', { class: 'prejoin' },
      h('section', { class: 'preview-col' },
        h('div', { class: 'preview' }, preview, placeholder, h('div', { class: 'preview-controls' }, micBtn, camBtn)),
        meter),
      form,
    ));
    refresh();
    const opening = open();
    nameInput.focus();
  });
}

/**
 * Stops a track and returns null, for a microphone the user turned off
 * before joining (its device is released; unmuting later reopens it).
 * @param {MediaStreamTrack} t
 * @returns {null}
 */
function stopped(t) {
  t.stop();
  return null;
}
