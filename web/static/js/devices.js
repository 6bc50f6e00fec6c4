// Cameras, microphones and speakers: listing them, opening a chosen one,
// routing sound to a chosen output, and a microphone level for the pre-join
// meter. No DOM beyond media elements passed in.

/**
 * @typedef {object} DeviceLists
 * @property {MediaDeviceInfo[]} cameras
 * @property {MediaDeviceInfo[]} microphones
 * @property {MediaDeviceInfo[]} speakers empty where the browser cannot choose the output
 */

/** Whether media elements can be sent to a chosen output (setSinkId). */
export function canChooseSpeaker() {
  return typeof HTMLMediaElement !== 'undefined' && 'setSinkId' in HTMLMediaElement.prototype;
}

/**
 * Lists the devices. Labels are empty until the page had a permission.
 * @returns {Promise<DeviceLists>}
 */
export async function listDevices() {
  /** @type {DeviceLists} */
  const out = { cameras: [], microphones: [], speakers: [] };
  if (!navigator.mediaDevices || !navigator.mediaDevices.enumerateDevices) return out;
  let all = [];
  try {
    all = await navigator.mediaDevices.enumerateDevices();
  } catch {
    return out;
  }
  for (const d of all) {
    if (!d.deviceId) continue;
    if (d.kind === 'videoinput') out.cameras.push(d);
    else if (d.kind === 'audioinput') out.microphones.push(d);
    else if (d.kind === 'audiooutput' && canChooseSpeaker()) out.speakers.push(d);
  }
  return out;
}

/**
 * The device id a live track was opened from ('' if unknown).
 * @param {MediaStreamTrack|null} track
 * @returns {string}
 */
export function deviceOf(track) {
  if (!track) return '';
  const s = track.getSettings ? track.getSettings() : {};
  return s.deviceId || '';
}

/**
 * Routes a media element's sound to a speaker; '' is the default output.
 * Unsupported or refused: the element keeps the default.
 * @param {HTMLMediaElement} el
 * @param {string} sinkId
 */
export async function setSpeaker(el, sinkId) {
  const m = /** @type {HTMLMediaElement & {setSinkId?: (id: string) => Promise<void>, sinkId?: string}} */ (el);
  if (!m.setSinkId || m.sinkId === sinkId) return;
  try {
    await m.setSinkId(sinkId);
  } catch (err) {
    console.warn('meet: choosing the speaker failed:', err);
  }
}

/**
 * A microphone level meter: calls onLevel with 0..1 about 20 times a
 * second until the returned function is called.
 * @param {MediaStreamTrack} track
 * @param {(level: number) => void} onLevel
 * @returns {() => void} stop
 */
export function meterLevel(track, onLevel) {
  /** @type {AudioContext} */
  let ctx;
  try {
    ctx = new AudioContext();
  } catch {
    return () => {};
  }
  const src = ctx.createMediaStreamSource(new MediaStream([track]));
  const an = ctx.createAnalyser();
  an.fftSize = 512;
  src.connect(an);
  const buf = new Float32Array(an.fftSize);
  void ctx.resume().catch(() => {});
  const timer = setInterval(() => {
    an.getFloatTimeDomainData(buf);
    let sum = 0;
    for (const x of buf) sum += x * x;
    const rms = Math.sqrt(sum / buf.length);
    // Speech sits around -30..-10 dBFS; map -60..0 dB onto 0..1.
    const db = 20 * Math.log10(rms || 1e-9);
    onLevel(Math.max(0, Math.min(1, (db + 60) / 60)));
  }, 50);
  return () => {
    clearInterval(timer);
    src.disconnect();
    void ctx.close().catch(() => {});
  };
}
