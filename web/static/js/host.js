// The host key of meetings this browser created, or opened a host link
// for: kept per room code in localStorage, sent only in the body of
// POST /api/token (never in a URL), and never part of the invite link.
// A host link is the invite link with "&host=<key>" in the fragment; the
// page stores the key and removes it from the address bar at once.
// No DOM access.

const PREFIX = 'meet.host.';
const HOST_KEY = /^[A-Za-z0-9_-]{43}$/;

/**
 * The host key in a link's fragment ("#<key>&host=<host key>"), or ''.
 * @param {string} hash
 * @returns {string}
 */
export function hostKeyFromHash(hash) {
  const h = hash.startsWith('#') ? hash.slice(1) : hash;
  for (const part of h.split('&')) {
    if (part.startsWith('host=') && HOST_KEY.test(part.slice(5))) return part.slice(5);
  }
  return '';
}

/**
 * The fragment without its host key, for the address bar.
 * @param {string} hash
 * @returns {string}
 */
export function hashWithoutHostKey(hash) {
  const h = hash.startsWith('#') ? hash.slice(1) : hash;
  const rest = h.split('&').filter((p) => p && !p.startsWith('host='));
  return rest.length ? '#' + rest.join('&') : '';
}

/**
 * The link that makes its opener a host: the invite link plus the host key
 * in the fragment. Share it only with co-hosts or your other devices.
 * @param {string} invite the invite link
 * @param {string} hostKey
 * @returns {string}
 */
export function hostLink(invite, hostKey) {
  return invite + (invite.includes('#') ? '&' : '#') + 'host=' + hostKey;
}

/** @returns {Storage|null} */
function store() {
  try {
    return globalThis.localStorage || null;
  } catch {
    return null;
  }
}

/**
 * @param {string} code
 * @param {string} key
 */
export function rememberHostKey(code, key) {
  if (!HOST_KEY.test(key)) return;
  try {
    const s = store();
    if (s) s.setItem(PREFIX + code, key);
  } catch {
    // Not remembered (storage full or off): host rights last this page.
  }
}

/**
 * @param {string} code
 * @returns {string} '' when this browser holds no host key for the room
 */
export function hostKeyFor(code) {
  try {
    const s = store();
    const k = s ? s.getItem(PREFIX + code) || '' : '';
    return HOST_KEY.test(k) ? k : '';
  } catch {
    return '';
  }
}

/** @param {string} code */
export function forgetHostKey(code) {
  try {
    const s = store();
    if (s) s.removeItem(PREFIX + code);
  } catch {
    // Nothing to forget.
  }
}
