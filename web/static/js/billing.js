// Paid plans in the page: the access code (kept only in this browser's
// localStorage), the plans the server sells, and checkout.
//
// Privacy: the access code goes to the server in two requests only, to
// create a paid meeting (POST /api/rooms) and to get a join token for a
// meeting this tab created as a paid one (POST /api/token). A guest who
// happens to have a code does not turn someone else's meeting into one
// billed to them. When billing is off on the server (/api/plans answers
// 404 or billing:false) nothing here is shown and no code is ever sent.

import { h } from './ui/dom.js';

export const ACCESS_CODE_KEY = 'meet.accessCode';
// Room codes this tab created as paid meetings: per tab, gone with it.
const PAID_ROOMS_KEY = 'meet.paidRooms';
const MAX_CODE_LEN = 256;

// Set once /api/plans says paid plans are sold: a code saved on another
// server, or before billing was turned off, is then never sent.
let billingOn = false;

/**
 * @typedef {object} PlanView
 * @property {string} id
 * @property {string} name
 * @property {boolean} paid
 * @property {number} max_participants 0 = no limit
 * @property {number} max_duration_seconds 0 = no limit
 * @property {string} display_price
 */

/**
 * @typedef {object} PlansReply
 * @property {boolean} billing whether paid plans are sold
 * @property {PlanView[]} plans
 */

/**
 * @param {Storage|null} s
 * @param {string} key
 * @returns {string}
 */
function read(s, key) {
  try {
    return (s && s.getItem(key)) || '';
  } catch {
    return ''; // storage disabled: behave as if nothing was saved
  }
}

/**
 * @param {Storage|null} s
 * @param {string} key
 * @param {string} value "" removes the key
 */
function write(s, key, value) {
  try {
    if (!s) return;
    if (value) s.setItem(key, value);
    else s.removeItem(key);
  } catch {
    // Storage full or disabled: the code then lives only in the form.
  }
}

/** @returns {Storage|null} */
function local() {
  return typeof localStorage === 'undefined' ? null : localStorage;
}

/** @returns {Storage|null} */
function session() {
  return typeof sessionStorage === 'undefined' ? null : sessionStorage;
}

/**
 * Normalizes what people paste: surrounding space and line breaks go,
 * case is kept (the server accepts either).
 * @param {string} code
 * @returns {string}
 */
export function cleanAccessCode(code) {
  return code.replace(/\s+/g, '').slice(0, MAX_CODE_LEN);
}

/** @returns {string} the saved access code, or "" */
export function savedAccessCode() {
  return read(local(), ACCESS_CODE_KEY);
}

/** @param {string} code saves it; "" forgets it */
export function saveAccessCode(code) {
  write(local(), ACCESS_CODE_KEY, cleanAccessCode(code));
}

/** @returns {string[]} */
function paidRooms() {
  try {
    const v = JSON.parse(read(session(), PAID_ROOMS_KEY) || '[]');
    return Array.isArray(v) ? v.filter((x) => typeof x === 'string') : [];
  } catch {
    return [];
  }
}

/**
 * Fields for POST /api/rooms: the saved code, so the new meeting is paid,
 * once fetchPlans has seen that the server sells plans.
 * @returns {{accessCode?: string}}
 */
export function roomFields() {
  const code = savedAccessCode();
  return code && billingOn ? { accessCode: code } : {};
}

/**
 * Remembers (for this tab) that the server made room a paid meeting.
 * @param {string} room
 * @param {unknown} plan the "plan" of the /api/rooms answer
 */
export function noteRoomCreated(room, plan) {
  if (!plan) return;
  const rooms = paidRooms().filter((r) => r !== room);
  rooms.push(room);
  write(session(), PAID_ROOMS_KEY, JSON.stringify(rooms.slice(-20)));
}

/**
 * Fields for POST /api/token: the saved code only for a meeting this tab
 * created as a paid one.
 * @param {string} room
 * @returns {{accessCode?: string}}
 */
export function tokenFields(room) {
  const code = savedAccessCode();
  return code && paidRooms().includes(room) ? { accessCode: code } : {};
}

/**
 * GET /api/plans. A server without billing answers 404: no paid plans.
 * @param {typeof fetch} [fetchFn]
 * @returns {Promise<PlansReply>}
 */
export async function fetchPlans(fetchFn = fetch) {
  /** @type {PlansReply} */
  const off = { billing: false, plans: [] };
  billingOn = false;
  let res;
  try {
    res = await fetchFn('/api/plans', { credentials: 'same-origin', referrerPolicy: 'no-referrer' });
  } catch {
    return off;
  }
  if (!res.ok) return off;
  /** @type {any} */
  const data = await res.json().catch(() => null);
  if (!data || data.billing !== true || !Array.isArray(data.plans)) return off;
  billingOn = true;
  return { billing: true, plans: data.plans.filter(isPlan) };
}

/**
 * @param {any} p
 * @returns {p is PlanView}
 */
function isPlan(p) {
  return p && typeof p.id === 'string' && typeof p.name === 'string' && typeof p.paid === 'boolean';
}

/**
 * POST /api/checkout: returns the Stripe Checkout URL to go to.
 * @param {string} planID
 * @param {typeof fetch} [fetchFn]
 * @returns {Promise<string>}
 */
export async function checkoutURL(planID, fetchFn = fetch) {
  let res;
  try {
    res = await fetchFn('/api/checkout', {
      method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ plan: planID }),
      credentials: 'same-origin', referrerPolicy: 'no-referrer',
    });
  } catch {
    throw new Error('Could not reach the server. Check your connection and try again.');
  }
  /** @type {any} */
  const data = await res.json().catch(() => null);
  if (!res.ok || !data || typeof data.url !== 'string' || !/^https:\/\//.test(data.url)) {
    throw new Error((data && typeof data.error === 'string' && data.error) || 'Checkout is not available right now. Try again later.');
  }
  return data.url;
}

/**
 * "90 minutes", "8 hours", "no limit".
 * @param {number} seconds
 * @returns {string}
 */
export function lengthLabel(seconds) {
  if (!seconds) return 'no time limit';
  const min = Math.round(seconds / 60);
  if (min >= 120 && min % 60 === 0) return min / 60 + ' hours';
  return min + ' minutes';
}

/**
 * @param {PlanView} p
 * @returns {string}
 */
export function limitsLabel(p) {
  const people = p.max_participants ? 'up to ' + p.max_participants + ' people' : 'any number of people';
  return people + ', ' + lengthLabel(p.max_duration_seconds) + ' per meeting';
}

/**
 * The landing page's paid-plan section: hidden until the server says it
 * sells plans, then "Have an access code?" and the plans with a checkout
 * button each.
 * @param {{fetchFn?: typeof fetch, go?: (url: string) => void}} [opts]
 * @returns {HTMLElement}
 */
export function billingPanel(opts = {}) {
  const fetchFn = opts.fetchFn || fetch.bind(globalThis);
  const go = opts.go || ((url) => location.assign(url));
  const panel = h('section', { class: 'plain-option billing-panel', id: 'billing', hidden: true });
  void fetchPlans(fetchFn).then((reply) => {
    if (!reply.billing) return;
    panel.replaceChildren(accessCodeForm(), plansList(reply.plans, fetchFn, go));
    panel.hidden = false;
  });
  return panel;
}

/** @returns {HTMLElement} */
function accessCodeForm() {
  const status = h('p', { class: 'hint', id: 'access-code-status', role: 'status' });
  const input = h('input', {
    id: 'access-code-input', type: 'text', placeholder: 'Access code', autocomplete: 'off', spellcheck: 'false',
    'aria-label': 'Access code', maxlength: MAX_CODE_LEN,
  });
  const save = h('button', { class: 'btn', type: 'submit' }, 'Use code');
  const remove = h('button', { class: 'btn-link', type: 'button', id: 'access-code-remove' }, 'Remove the code from this browser');
  const form = h('form', { class: 'join-form' }, input, save);
  const show = () => {
    const saved = savedAccessCode() !== '';
    status.textContent = saved
      ? 'Your access code is saved in this browser: new meetings you start use your paid plan.'
      : 'With a code, new meetings you start get your paid plan. It stays in this browser only.';
    remove.hidden = !saved;
    input.value = '';
  };
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    if (cleanAccessCode(input.value)) saveAccessCode(input.value);
    show();
  });
  remove.addEventListener('click', () => {
    saveAccessCode('');
    show();
  });
  show();
  const details = h('details', { id: 'access-code' },
    h('summary', { text: 'Have an access code?' }), form, status, remove);
  if (savedAccessCode()) details.open = true;
  return details;
}

/**
 * @param {PlanView[]} plans
 * @param {typeof fetch} fetchFn
 * @param {(url: string) => void} go
 * @returns {HTMLElement}
 */
function plansList(plans, fetchFn, go) {
  const error = h('p', { class: 'form-error', role: 'alert' });
  const items = plans.map((p) => {
    const li = h('li', { class: 'plan', 'data-plan': p.id },
      h('strong', { text: p.name }), ' · ', h('span', { text: limitsLabel(p) }),
      p.display_price ? h('span', { class: 'hint', text: ' · ' + p.display_price }) : null);
    if (p.paid) {
      const buy = h('button', { class: 'btn-link', type: 'button', 'data-checkout': p.id }, 'Buy ' + p.name);
      buy.addEventListener('click', async () => {
        buy.disabled = true;
        error.textContent = '';
        try {
          go(await checkoutURL(p.id, fetchFn));
        } catch (err) {
          error.textContent = err instanceof Error ? err.message : String(err);
          buy.disabled = false;
        }
      });
      li.append(' ', buy);
    }
    return li;
  });
  return h('div', { class: 'plans' }, h('p', { class: 'hint', text: 'Plans' }), h('ul', { class: 'plan-list' }, ...items), error);
}
