// How large the camera is captured and how its simulcast layers are cut,
// by the number of people in the room (the table in docs/quality.md). A
// small room gets 720p on a large tile; a large room small tiles, so the
// capture and every layer shrink and each uplink carries less. No DOM
// access: tested alone (web/test/ladder.test.js).

/**
 * @typedef {object} Tier
 * @property {number} upTo the largest room (people, us included) it serves
 * @property {number} width capture width
 * @property {number} height capture height
 * @property {number} frameRate capture frame rate
 * @property {number[]} bitrates target bits per second of the q, h, f layers
 */

/** @type {Tier[]} */
export const TIERS = [
  { upTo: 4, width: 1280, height: 720, frameRate: 30, bitrates: [150000, 500000, 1500000] },
  { upTo: 9, width: 960, height: 540, frameRate: 24, bitrates: [120000, 350000, 900000] },
  { upTo: Infinity, width: 640, height: 360, frameRate: 20, bitrates: [100000, 250000, 600000] },
];

/** Rids and scale of the three layers, lowest first (as sfu/ names them). */
export const LAYERS = [
  { rid: 'q', scaleResolutionDownBy: 4 },
  { rid: 'h', scaleResolutionDownBy: 2 },
  { rid: 'f', scaleResolutionDownBy: 1 },
];

/** A shared screen: full resolution, few frames, text stays sharp. */
export const SCREEN = { frameRate: 5, maxBitrate: 1500000 };

/**
 * @param {number} people in the room, us included
 * @returns {Tier}
 */
export function tierFor(people) {
  return TIERS.find((t) => people <= t.upTo) || TIERS[TIERS.length - 1];
}

/**
 * The camera's send encodings for a tier.
 * @param {Tier} tier
 * @returns {{rid: string, scaleResolutionDownBy: number, maxBitrate: number}[]}
 */
export function cameraEncodings(tier) {
  return LAYERS.map((l, i) => ({ ...l, maxBitrate: tier.bitrates[i] }));
}

/**
 * Capture constraints for a tier.
 * @param {Tier} tier
 * @returns {MediaTrackConstraints}
 */
export function captureConstraints(tier) {
  return { width: { ideal: tier.width }, height: { ideal: tier.height }, frameRate: { ideal: tier.frameRate, max: 30 } };
}

/**
 * @typedef {object} AnnouncedLayer
 * @property {string} rid
 * @property {number} width
 * @property {number} height
 * @property {number} maxBitrate 0 when the browser decides
 */

/**
 * The layers a sender produces from a track of width×height, as the server
 * is told them ("encodings" message).
 * @param {{rid?: string, scaleResolutionDownBy?: number, maxBitrate?: number}[]} encodings
 * @param {number} width
 * @param {number} height
 * @returns {AnnouncedLayer[]}
 */
export function announced(encodings, width, height) {
  const list = encodings.length ? encodings : [{}];
  return list.map((e) => {
    const scale = e.scaleResolutionDownBy && e.scaleResolutionDownBy >= 1 ? e.scaleResolutionDownBy : 1;
    return { rid: e.rid || '', width: Math.round(width / scale), height: Math.round(height / scale), maxBitrate: e.maxBitrate || 0 };
  });
}
