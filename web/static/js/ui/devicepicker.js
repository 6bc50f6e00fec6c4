// Camera, microphone and speaker choosers and the noise-suppression switch,
// shared by the pre-join screen and the in-call settings dialog.

import { h } from './dom.js';
import { listDevices, canChooseSpeaker } from '../devices.js';

/**
 * @typedef {object} PickerState
 * @property {string} videoId
 * @property {string} audioId
 * @property {string} speakerId
 * @property {boolean} noise
 */

/**
 * @typedef {object} PickerHandlers
 * @property {(id: string) => void} camera
 * @property {(id: string) => void} microphone
 * @property {(id: string) => void} speaker
 * @property {(on: boolean) => void} noise
 */

/**
 * Builds the choosers. refresh() re-reads the device list (labels appear
 * once permission was given; devices come and go).
 * @param {PickerState} state
 * @param {PickerHandlers} on
 * @returns {{el: HTMLElement, refresh: (state: PickerState) => Promise<void>, setNoiseNote: (text: string) => void}}
 */
export function devicePicker(state, on) {
  const cam = h('select', { id: 'camera-select', 'aria-label': 'Camera' });
  const mic = h('select', { id: 'microphone-select', 'aria-label': 'Microphone' });
  const spk = h('select', { id: 'speaker-select', 'aria-label': 'Speaker' });
  const noise = h('input', { id: 'noise-toggle', type: 'checkbox', role: 'switch' });
  const noiseNote = h('span', { class: 'hint', id: 'noise-note' });
  cam.addEventListener('change', () => on.camera(cam.value));
  mic.addEventListener('change', () => on.microphone(mic.value));
  spk.addEventListener('change', () => on.speaker(spk.value));
  noise.addEventListener('change', () => on.noise(noise.checked));
  const spkRow = h('label', { class: 'field' }, h('span', { class: 'label', text: 'Speaker' }), spk);
  const el = h('div', { class: 'device-picker' },
    h('label', { class: 'field' }, h('span', { class: 'label', text: 'Camera' }), cam),
    h('label', { class: 'field' }, h('span', { class: 'label', text: 'Microphone' }), mic),
    spkRow,
    h('label', { class: 'switch-row' }, noise, h('span', { text: 'Noise suppression' }), noiseNote));

  /**
   * @param {HTMLSelectElement} sel
   * @param {MediaDeviceInfo[]} list
   * @param {string} current
   * @param {string} noun
   */
  const fill = (sel, list, current, noun) => {
    sel.replaceChildren(...(list.length
      ? list.map((d, i) => h('option', { value: d.deviceId, text: d.label || noun + ' ' + (i + 1) }))
      : [h('option', { value: '', text: 'No ' + noun.toLowerCase() + ' found' })]));
    sel.disabled = list.length === 0;
    if (current && list.some((d) => d.deviceId === current)) sel.value = current;
  };

  const refresh = async (/** @type {PickerState} */ s) => {
    const d = await listDevices();
    fill(cam, d.cameras, s.videoId, 'Camera');
    fill(mic, d.microphones, s.audioId, 'Microphone');
    spkRow.hidden = !canChooseSpeaker();
    fill(spk, d.speakers, s.speakerId || 'default', 'Speaker');
    noise.checked = s.noise;
  };
  void refresh(state);
  if (navigator.mediaDevices) navigator.mediaDevices.addEventListener('devicechange', () => void refresh(state));
  return { el, refresh, setNoiseNote: (text) => { noiseNote.textContent = text; } };
}

/**
 * Describes the noise mode in use for the switch's note.
 * @param {import('../noise.js').NoiseMode} mode
 * @returns {string}
 */
export function noiseNote(mode) {
  if (mode === 'rnnoise') return 'RNNoise, in your browser';
  if (mode === 'browser') return 'the browser’s built-in filter';
  return '';
}
