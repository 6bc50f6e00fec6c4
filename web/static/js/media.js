// Camera and microphone capture. Kept apart from the UI so the call
// controller can restart the camera without knowing about the page.

/** Capture settings: moderate sizes, since every participant's upload is fanned out by the server. */
export const VIDEO_CONSTRAINTS = {
  width: { ideal: 640 },
  height: { ideal: 360 },
  frameRate: { ideal: 24, max: 30 },
};

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
 * Opens the microphone and/or camera. A missing or refused device is not an
 * error: the call works with what there is, and problem says what is missing.
 * @param {{audio: boolean, video: boolean, low?: boolean}} want
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
    const s = await navigator.mediaDevices.getUserMedia({
      audio: want.audio ? AUDIO_CONSTRAINTS : false,
      video: want.video ? (want.low ? LOW_VIDEO_CONSTRAINTS : VIDEO_CONSTRAINTS) : false,
    });
    out.audio = s.getAudioTracks()[0] || null;
    out.video = s.getVideoTracks()[0] || null;
    return out;
  } catch (err) {
    // Both at once failed: try each alone, so a missing camera does not
    // cost the microphone.
    if (want.audio && want.video) {
      const a = await capture({ audio: true, video: false });
      const v = await capture({ audio: false, video: true, low: want.low });
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
 * @param {unknown} err
 * @returns {string}
 */
function describe(err) {
  const name = err && typeof err === 'object' && 'name' in err ? String(err.name) : '';
  if (name === 'NotAllowedError') return 'permission was refused. Allow camera and microphone in the address bar, then reload.';
  if (name === 'NotFoundError') return 'no camera or microphone was found.';
  if (name === 'NotReadableError') return 'the device is in use by another application.';
  return 'the device could not be opened (' + (name || String(err)) + ').';
}
