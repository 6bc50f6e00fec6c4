// Parsing and building of meeting links. A link is
//   /r/<code>#<key>              an end-to-end encrypted room (the default)
//   /r/<code>?e2ee=off           a room without end-to-end encryption
// plus query options for tests and kiosks: autojoin=1,
// e2eepath=auto|script|streams, video=low, simulcast=0|1, noise=off, and a
// display name to prefill, which goes in the fragment only:
//   /r/<code>?autojoin=1#<key>&name=<percent-encoded name>   (e2ee=off: #name=...)
// The key and the name live only in the fragment, which browsers never send
// to a server; nothing here puts them anywhere else. ?name= in the query is
// not read: a name there would reach the server in the page request.
// No DOM access: this module also runs under node for tests.

/** @typedef {'auto'|'script'|'streams'} E2EEPath */

/**
 * @typedef {object} RoomLink
 * @property {string} code room code from the path
 * @property {boolean} e2ee false only for an explicit ?e2ee=off
 * @property {string} key the link key from the fragment ('' if none)
 * @property {string} name display name from the fragment's name= ('' if none)
 * @property {boolean} autojoin join without the pre-join screen
 * @property {E2EEPath} e2eePath which Encoded Transform API to use
 * @property {boolean} lowVideo send small, slow video (?video=low): tests on small machines, poor links
 * @property {boolean|null} simulcast ?simulcast=1 forces three camera layers, 0 one; null lets the client decide
 * @property {boolean} noiseOff start with noise suppression off (?noise=off)
 */

const CODE = /^[A-Za-z0-9_-]{1,64}$/;
const KEY = /^[A-Za-z0-9_-]{16,128}$/;

/**
 * Reads a room link. Returns null when the path is not a room page.
 * @param {{pathname: string, search: string, hash: string}} loc
 * @returns {RoomLink|null}
 */
export function parseRoomLink(loc) {
  const m = /^\/r\/([^/]+)\/?$/.exec(loc.pathname);
  if (!m || !CODE.test(m[1])) return null;
  const q = new URLSearchParams(loc.search);
  const path = q.get('e2eepath');
  return {
    code: m[1],
    e2ee: q.get('e2ee') !== 'off',
    key: keyFromHash(loc.hash),
    name: nameFromHash(loc.hash),
    autojoin: q.get('autojoin') === '1' || q.get('autojoin') === 'true',
    e2eePath: path === 'script' || path === 'streams' ? path : 'auto',
    lowVideo: q.get('video') === 'low',
    simulcast: q.get('simulcast') === '1' ? true : q.get('simulcast') === '0' ? false : null,
    noiseOff: q.get('noise') === 'off',
  };
}

/**
 * The key from a fragment: its first &-separated field, "<key>" or
 * "key=<key>" (base64url has no "&"). Returns '' when absent or malformed,
 * so a half-copied link is caught before joining.
 * @param {string} hash
 * @returns {string}
 */
export function keyFromHash(hash) {
  let h = hash.startsWith('#') ? hash.slice(1) : hash;
  // A host link adds "&host=<host key>" after the key (host.js), a
  // prefilled link "&name=<name>".
  h = h.split('&')[0];
  if (h.startsWith('key=')) h = h.slice(4);
  return KEY.test(h) ? h : '';
}

/**
 * The display name from a fragment's "name=" field (percent-encoded), ''
 * when there is none or it does not decode.
 * @param {string} hash
 * @returns {string}
 */
export function nameFromHash(hash) {
  const fields = (hash.startsWith('#') ? hash.slice(1) : hash).split('&');
  const f = fields.find((x) => x.startsWith('name='));
  if (!f) return '';
  try {
    return decodeURIComponent(f.slice(5).replace(/\+/g, ' ')).trim().slice(0, 64);
  } catch {
    return '';
  }
}

/**
 * The fragment of a prefilled join link: the key (if any) and the name.
 * @param {string} key '' in rooms without encryption
 * @param {string} name
 * @returns {string} "#<key>&name=<name>", "#name=<name>" or "#<key>"
 */
export function joinFragment(key, name) {
  const fields = [];
  if (key) fields.push(key);
  if (name) fields.push('name=' + encodeURIComponent(name));
  return fields.length ? '#' + fields.join('&') : '';
}

/**
 * The invite link to share: code and key (or e2ee=off), never the
 * name/autojoin options that only make sense for the person who set them.
 * @param {string} origin e.g. "https://meet.example.com"
 * @param {string} code
 * @param {{e2ee: boolean, key: string}} opts
 * @returns {string}
 */
export function inviteLink(origin, code, opts) {
  const base = origin + '/r/' + encodeURIComponent(code);
  return opts.e2ee ? base + '#' + opts.key : base + '?e2ee=off';
}

/**
 * Turns what someone pasted into the "join" field into a same-origin path:
 * a full link, a path, or a bare code. Returns null when it is none of these.
 * Links to another host are refused rather than followed.
 * @param {string} input
 * @param {string} origin
 * @returns {string|null}
 */
export function joinTarget(input, origin) {
  const s = input.trim();
  if (s === '') return null;
  // A bare code, optionally with its key: "abcdefghj" or "abcdefghj#key".
  if (/^[A-Za-z0-9_-]{1,64}(#[A-Za-z0-9_=-]*)?$/.test(s)) return '/r/' + s;
  let u;
  try {
    u = new URL(s, origin);
  } catch {
    return null;
  }
  if (u.origin !== origin) return null;
  if (!parseRoomLink(u)) return null;
  return u.pathname + u.search + u.hash;
}
