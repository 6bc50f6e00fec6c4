// Camera and microphone capture. Kept apart from the UI so the call
// controller can restart the camera without knowing about the page.

import { captureConstraints, tierFor, SCREEN } from './ladder.js';

/**
 * Capture settings before the room's size is known: a small room's (the
 * session resizes the camera to the room, see ladder.js).
 */
export const VIDEO_CONSTRAINTS = captureConstraints(tierFor(1));

/** Small, slow video for weak machines and links. */
export const LOW_VIDEO_CONSTRAINTS = {
  width: { ideal: 320 },
  height: { ideal: 180 },
  frameRate: { ideal: 15, max: 15 },
};

export const AUDIO_CONSTRAINTS = {
  echoCancellation: true,
  noiseSuppression: true,
  autoGainControl: true,
};

/**
 * @typedef {object} Captured
 * @property {MediaStreamTrack|null} audio
 * @property {MediaStreamTrack|null} video
 * @property {string} problem a sentence for the user when something could not be opened ('' if all went well)
 */

/**
 * What to open. audioId/videoId pick a device (exact); '' or absent takes
 * the default one.
 * @typedef {object} CaptureRequest
 * @property {boolean} audio
 * @property {boolean} video
 * @property {boolean} [low] small, slow video
 * @property {string} [audioId]
 * @property {string} [videoId]
 */

/**
 * @param {CaptureRequest} want
 * @returns {MediaTrackConstraints|false}
 */
function audioConstraints(want) {
  if (!want.audio) return false;
  return want.audioId ? { ...AUDIO_CONSTRAINTS, deviceId: { exact: want.audioId } } : AUDIO_CONSTRAINTS;
}

/**
 * @param {CaptureRequest} want
 * @returns {MediaTrackConstraints|false}
 */
function videoConstraints(want) {
  if (!want.video) return false;
  const base = want.low ? LOW_VIDEO_CONSTRAINTS : VIDEO_CONSTRAINTS;
  return want.videoId ? { ...base, deviceId: { exact: want.videoId } } : base;
}

/**
 * Opens the microphone and/or camera. A missing or refused device is not an
 * error: the call works with what there is, and problem says what is missing.
 * @param {CaptureRequest} want
 * @returns {Promise<Captured>}
 */
export async function capture(want) {
  /** @type {Captured} */
  const out = { audio: null, video: null, problem: '' };
  if (!want.audio && !want.video) return out;
  if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) {
    out.problem = 'This page cannot use the camera or microphone (it must be opened over https).';
    return out;
  }
  try {
    const s = await navigator.mediaDevices.getUserMedia({ audio: audioConstraints(want), video: videoConstraints(want) });
    out.audio = s.getAudioTracks()[0] || null;
    out.video = s.getVideoTracks()[0] || null;
    return out;
  } catch (err) {
    // Both at once failed: try each alone, so a missing camera does not
    // cost the microphone.
    if (want.audio && want.video) {
      const a = await capture({ ...want, video: false });
      const v = await capture({ ...want, audio: false });
      out.audio = a.audio;
      out.video = v.video;
      if (!out.audio && !out.video) out.problem = describe(err);
      else if (!out.audio) out.problem = 'Your microphone could not be opened: ' + describe(err);
      else if (!out.video) out.problem = 'Your camera could not be opened: ' + describe(err);
      return out;
    }
    out.problem = describe(err);
    return out;
  }
}

/**
 * Asks the user for a screen, window or tab to share. Resolves null when
 * they cancel; throws an Error whose message can be shown otherwise.
 * @param {boolean} [low] smaller and slower, as ?video=low asks for the camera
 * @returns {Promise<MediaStreamTrack|null>}
 */
export async function captureScreen(low = false) {
  if (!navigator.mediaDevices || !navigator.mediaDevices.getDisplayMedia) {
    throw new Error('This browser cannot share the screen.');
  }
  try {
    const video = low ? { width: { max: 960 }, height: { max: 540 }, frameRate: { max: 5 } } : { frameRate: { ideal: SCREEN.frameRate, max: SCREEN.frameRate } };
    const s = await navigator.mediaDevices.getDisplayMedia({ video, audio: false });
    const t = s.getVideoTracks()[0] || null;
    // Text on a screen should stay sharp rather than move smoothly.
    if (t && 'contentHint' in t) t.contentHint = 'detail';
    return t;
  } catch (err) {
    const name = err && typeof err === 'object' && 'name' in err ? String(err.name) : '';
    if (name === 'NotAllowedError' || name === 'AbortError') return null;
    throw new Error('The screen could not be shared: ' + describe(err));
  }
}

/**
 * @param {unknown} err
 * @returns {string}
 */
function describe(err) {
  const name = err && typeof err === 'object' && 'name' in err ? String(err.name) : '';
  if (name === 'NotAllowedError') return 'permission was refused. Allow camera and microphone in the address bar, then reload.';
  if (name === 'NotFoundError') return 'no camera or microphone was found.';
  if (name === 'NotReadableError') return 'the device is in use by another application. Close it there, then try again.';
  if (name === 'OverconstrainedError') return 'the chosen device is no longer available.';
  return 'the device could not be opened (' + (name || String(err)) + ').';
}
