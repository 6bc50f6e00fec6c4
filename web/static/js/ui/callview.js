// The in-call screen: top bar with the room's security state and safety
// code, the video grid, the chat panel and the control bar.

import { h, mount } from './dom.js';
import { icon } from './icons.js';
import { Tile } from './tile.js';
import { ChatPanel } from './chat.js';
import { toast } from './toast.js';
import { inviteLink } from '../link.js';

/** @typedef {import('../call.js').Call} Call */

/** Space between tiles, as in app.css. */
const GAP = 10;

/**
 * Grid shape for n 16:9 tiles in a w×h area: the column count that makes
 * the tiles largest, and their size.
 * @param {number} n
 * @param {number} w
 * @param {number} hgt
 * @returns {{cols: number, rows: number, tileW: number, tileH: number}}
 */
export function gridShape(n, w, hgt) {
  let best = { cols: 1, rows: 1, tileW: 0, tileH: 0 };
  for (let cols = 1; cols <= Math.max(1, n); cols++) {
    const rows = Math.ceil(n / cols);
    const tileW = Math.floor(Math.min((w - (cols - 1) * GAP) / cols, ((hgt - (rows - 1) * GAP) / rows) * 16 / 9));
    if (tileW > best.tileW) best = { cols, rows, tileW, tileH: Math.floor((tileW * 9) / 16) };
  }
  return best;
}

/**
 * Shows the call and keeps it in step with the Call's events.
 * @param {HTMLElement} root
 * @param {Call} call
 * @param {{key: string}} link
 */
export function renderCall(root, call, link) {
  /** @type {Map<string, Tile>} */
  const tiles = new Map();
  const grid = h('section', { class: 'grid', 'aria-label': 'Participants' });
  const count = h('span', { class: 'count' });
  const sec = call.security;

  const securityBadge = sec.e2ee
    ? h('div', { class: 'badge badge-secure', title: 'Everyone who sees the same safety code holds the same key. Compare it aloud.' },
      icon('lock'), h('span', { text: 'End-to-end encrypted' }),
      h('span', { class: 'safety' }, 'Safety code ', h('code', { id: 'safety-code', text: sec.safetyCode })))
    : h('div', { class: 'badge badge-warn', title: 'The server could read this meeting.' }, icon('unlock'), h('span', { text: 'Not end-to-end encrypted' }));

  let unread = 0;
  const unreadDot = h('span', { class: 'unread', hidden: true });
  const chat = new ChatPanel((text) => call.sendChat(text), () => toggleChat(false));
  chat.el.hidden = true;

  const micBtn = h('button', { class: 'round-btn', type: 'button', id: 'mic-button' });
  const camBtn = h('button', { class: 'round-btn', type: 'button', id: 'cam-button' });
  const chatBtn = h('button', { class: 'round-btn', type: 'button', id: 'chat-button', 'aria-label': 'Chat' }, icon('chat'), unreadDot);
  const inviteBtn = h('button', { class: 'pill-btn', type: 'button', id: 'invite-button' }, icon('link'), h('span', { text: 'Copy invite link' }));
  const leaveBtn = h('button', { class: 'round-btn danger', type: 'button', id: 'leave-button', 'aria-label': 'Leave meeting' }, icon('leave'));

  const syncControls = () => {
    const me = call.self;
    micBtn.replaceChildren(icon(me.audioMuted ? 'micOff' : 'mic'));
    micBtn.classList.toggle('off', me.audioMuted);
    micBtn.setAttribute('aria-label', me.audioMuted ? 'Unmute microphone' : 'Mute microphone');
    camBtn.replaceChildren(icon(me.videoMuted ? 'camOff' : 'cam'));
    camBtn.classList.toggle('off', me.videoMuted);
    camBtn.setAttribute('aria-label', me.videoMuted ? 'Start camera' : 'Stop camera');
  };

  /** @param {boolean} open */
  const toggleChat = (open) => {
    chat.el.hidden = !open;
    chatBtn.classList.toggle('active', open);
    // Resize the tiles before focusing: focusing while they still overflow
    // would scroll the whole page sideways.
    layout();
    if (open) {
      unread = 0;
      unreadDot.hidden = true;
      chat.input.focus({ preventScroll: true });
    }
  };

  micBtn.addEventListener('click', () => void call.setMicrophone(call.self.audioMuted));
  camBtn.addEventListener('click', () => void call.setCamera(call.self.videoMuted));
  chatBtn.addEventListener('click', () => toggleChat(chat.el.hidden));
  leaveBtn.addEventListener('click', () => call.leave());
  inviteBtn.addEventListener('click', async () => {
    const url = inviteLink(location.origin, call.code, { e2ee: sec.e2ee, key: link.key });
    try {
      await navigator.clipboard.writeText(url);
      toast('Invite link copied. Anyone with it can join' + (sec.e2ee ? ' and decrypt the meeting.' : '.'));
    } catch {
      prompt('Copy this invite link:', url);
    }
  });

  const layout = () => {
    const n = Math.max(1, tiles.size);
    const r = grid.getBoundingClientRect();
    const { cols, tileW, tileH } = gridShape(n, r.width || 1280, r.height || 720);
    grid.style.setProperty('--cols', String(cols));
    grid.style.setProperty('--tile-w', tileW + 'px');
    grid.style.setProperty('--tile-h', tileH + 'px');
    count.textContent = String(tiles.size);
  };
  new ResizeObserver(layout).observe(grid);

  // Tell the server how large each remote video is shown, so it can pick a
  // fitting layer; debounced because resizes come in bursts.
  /** @type {Map<string, ReturnType<typeof setTimeout>>} */
  const layerTimers = new Map();
  const sizes = new ResizeObserver((entries) => {
    for (const e of entries) {
      const id = /** @type {HTMLElement} */ (e.target).dataset.id || '';
      const { width, height } = e.contentRect;
      clearTimeout(layerTimers.get(id));
      layerTimers.set(id, setTimeout(() => call.setRenderedSize(id, width * devicePixelRatio, height * devicePixelRatio), 500));
    }
  });

  call.on('update', (p) => {
    let t = tiles.get(p.id);
    if (!t) {
      t = new Tile(p);
      tiles.set(p.id, t);
      if (p.self) grid.prepend(t.el);
      else {
        grid.append(t.el);
        sizes.observe(t.el);
      }
      layout();
    } else {
      t.update(p);
    }
    if (p.self) syncControls();
  });
  call.on('remove', ({ id }) => {
    const t = tiles.get(id);
    if (!t) return;
    sizes.unobserve(t.el);
    clearTimeout(layerTimers.get(id));
    t.remove();
    tiles.delete(id);
    layout();
  });
  call.on('chat', (m) => {
    chat.add(m);
    if (chat.el.hidden && !m.self) {
      unread++;
      unreadDot.hidden = false;
      unreadDot.textContent = String(unread);
    }
  });
  call.on('notice', ({ text }) => toast(text));

  mount(root, h('main', { class: 'call' },
    h('header', { class: 'call-bar' },
      h('div', { class: 'brand small' }, h('span', { class: 'brand-mark' }), h('span', { class: 'brand-name', text: 'MonkeyThorn Meet' })),
      h('div', { class: 'room-code' }, h('code', { text: call.code })),
      securityBadge,
      h('div', { class: 'people', title: 'Participants' }, icon('users'), count)),
    h('div', { class: 'call-body' }, grid, chat.el),
    h('footer', { class: 'controls' },
      h('div', { class: 'controls-left' }, inviteBtn),
      h('div', { class: 'controls-center' }, micBtn, camBtn, chatBtn, leaveBtn),
      h('div', { class: 'controls-right' }))));
  for (const p of call.participants.values()) call.emit('update', p);
  syncControls();
  layout();
}

/**
 * Shows the screen after a call ended or failed.
 * @param {HTMLElement} root
 * @param {{title: string, message: string, error: boolean, rejoin?: () => void}} o
 */
export function renderEnded(root, o) {
  mount(root, h('main', { class: 'ended' },
    h('section', { class: 'ended-card' + (o.error ? ' error' : '') },
      h('h1', { text: o.title }),
      h('p', { id: 'ended-message', text: o.message }),
      h('div', { class: 'row' },
        o.rejoin ? h('button', { class: 'btn btn-primary', type: 'button', onclick: o.rejoin }, 'Rejoin') : null,
        h('a', { class: 'btn', href: '/' }, 'Home')))));
}
