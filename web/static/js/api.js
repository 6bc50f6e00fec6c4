// The HTTP API the page uses: create a room, get a join token. The room key
// is never a parameter here: it stays in the URL fragment.

import { noteRoomCreated, roomFields, tokenFields } from './billing.js';
import { rememberHostKey } from './host.js';

/**
 * @typedef {object} TokenReply
 * @property {string} token
 * @property {string} ws absolute ws(s):// URL of the signaling endpoint
 * @property {import('./session.js').ICEServer[]} iceServers
 */

/** An API failure whose message can be shown as it is. */
export class ApiError extends Error {
  /**
   * @param {number} status HTTP status, 0 for network errors
   * @param {string} message
   */
  constructor(status, message) {
    super(message);
    this.name = 'ApiError';
    this.status = status;
  }
}

/**
 * @param {string} path
 * @param {unknown} body
 * @returns {Promise<any>}
 */
async function post(path, body) {
  let res;
  try {
    res = await fetch(path, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify(body),
      credentials: 'same-origin',
      // The referrer would only repeat the path; never risk more.
      referrerPolicy: 'no-referrer',
    });
  } catch {
    throw new ApiError(0, 'Could not reach the server. Check your connection and try again.');
  }
  /** @type {any} */
  let data = null;
  try {
    data = await res.json();
  } catch {
    // An empty or non-JSON body: the status says enough.
  }
  if (!res.ok) {
    const why = data && typeof data.error === 'string' ? data.error : data && typeof data.message === 'string' ? data.message : res.statusText;
    throw new ApiError(res.status, messageFor(res.status, why));
  }
  return data;
}

/**
 * @param {number} status
 * @param {string} why
 * @returns {string}
 */
function messageFor(status, why) {
  if (status === 429) return 'Too many requests. Wait a moment and try again.';
  if (status === 404) return 'This meeting does not exist or has ended. Start a new one from the home page.';
  if (status === 403) return 'You are not allowed to join this meeting' + (why ? ': ' + why : '.');
  if (status >= 500) return 'The server had a problem (' + status + '). Try again in a moment.';
  return why || 'The request failed (' + status + ').';
}

/**
 * Creates a room and returns its code.
 * @param {boolean} e2ee whether the room will be end-to-end encrypted
 * @returns {Promise<string>}
 */
export async function createRoom(e2ee) {
  const data = await post('/api/rooms', { e2ee, ...roomFields() });
  if (!data || typeof data.code !== 'string') throw new ApiError(500, 'The server returned no room code.');
  noteRoomCreated(data.code, data.plan);
  // The creator is the meeting's host: this browser keeps the key.
  if (typeof data.hostKey === 'string') rememberHostKey(data.code, data.hostKey);
  return data.code;
}

/**
 * Asks for a join token for a room.
 * @param {string} room room code
 * @param {boolean} e2ee whether this client joins with end-to-end encryption
 * @param {string} [hostKey] the room's host key, for a host's token
 * @param {boolean} [hostLost] the connection to the room's node broke without a drain
 * @returns {Promise<TokenReply>}
 */
export async function joinToken(room, e2ee, hostKey = '', hostLost = false) {
  const data = await post('/api/token', { room, e2ee, ...tokenFields(room), ...(hostKey ? { hostKey } : {}), ...(hostLost ? { hostLost } : {}) });
  if (!data || typeof data.token !== 'string') throw new ApiError(500, 'The server returned no join token.');
  return {
    token: data.token,
    ws: wsURL(typeof data.ws === 'string' && data.ws ? data.ws : '/ws', location.href),
    iceServers: Array.isArray(data.iceServers) ? data.iceServers : [],
  };
}

/**
 * Resolves the signaling URL against the page and gives it a ws scheme.
 * @param {string} ws
 * @param {string} base
 * @returns {string}
 */
export function wsURL(ws, base) {
  const u = new URL(ws, base);
  if (u.protocol === 'http:') u.protocol = 'ws:';
  else if (u.protocol === 'https:') u.protocol = 'wss:';
  u.hash = '';
  return u.toString();
}
