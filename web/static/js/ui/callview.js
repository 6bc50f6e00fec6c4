// The in-call screen: top bar with the room's security state and safety
// code, the stage (adaptive grid, or one large tile with a strip of the
// others), the chat and people panels, the control bar, and the dialogs for
// devices, keyboard help and a lost connection.

import { h, mount } from './dom.js';
import { icon } from './icons.js';
import { Tile } from './tile.js';
import { ChatPanel } from './chat.js';
import { PeoplePanel } from './people.js';
import { openDialog } from './dialog.js';
import { devicePicker, noiseNote } from './devicepicker.js';
import { SHORTCUTS, shortcutFor } from './shortcuts.js';
import { toast } from './toast.js';
import { inviteLink } from '../link.js';
import { hostKeyFor, hostLink } from '../host.js';
import { gridShape, chooseLayout } from '../layout.js';
import { deviceOf } from '../devices.js';

export { gridShape };

/** @typedef {import('../call.js').Call} Call */
/** @typedef {import('../call.js').Participant} Participant */

const VIEW_KEY = 'meet.view';

/** @returns {'grid'|'speaker'} */
function rememberedView() {
  try {
    return localStorage.getItem(VIEW_KEY) === 'speaker' ? 'speaker' : 'grid';
  } catch {
    return 'grid';
  }
}

/**
 * A round control button with an accessible name.
 * @param {string} id
 * @param {string} label
 * @param {string} iconName
 * @param {string} [extra] more classes
 */
function roundBtn(id, label, iconName, extra = '') {
  return h('button', { class: 'round-btn ' + extra, type: 'button', id, 'aria-label': label, title: label }, icon(iconName));
}

/**
 * Shows the call and keeps it in step with the Call's events.
 * @param {HTMLElement} root
 * @param {Call} call
 * @param {{key: string}} link
 */
export function renderCall(root, call, link) {
  const ac = new AbortController();
  /** @type {Map<string, Tile>} by tile key, in the order they appeared */
  const tiles = new Map();
  let pinned = '';
  let view = rememberedView();
  const stage = h('div', { class: 'stage' });
  const strip = h('div', { class: 'grid' });
  const area = h('section', { class: 'stage-area', 'data-mode': 'grid', 'aria-label': 'Participants' }, stage, strip);
  const count = h('span', { class: 'count' });
  const sec = call.security;

  const securityBadge = sec.e2ee
    ? h('div', { class: 'badge badge-secure', title: 'Everyone who sees the same safety code holds the same key. Compare it aloud.' },
      icon('lock'), h('span', { class: 'badge-text', text: 'End-to-end encrypted' }),
      h('span', { class: 'safety' }, h('span', { class: 'safety-label', text: 'Safety code ' }), h('code', { id: 'safety-code', text: sec.safetyCode })))
    : h('div', { class: 'badge badge-warn', title: 'The server could read this meeting.' }, icon('unlock'), h('span', { text: 'Not end-to-end encrypted' }));

  // Panels: one at a time beside the stage (over it on small screens).
  let unread = 0;
  const unreadDot = h('span', { class: 'unread', hidden: true, 'aria-hidden': 'true' });
  const chat = new ChatPanel((text) => call.sendChat(text), () => showPanel(''));
  chat.el.classList.add('side-panel');
  const people = new PeoplePanel(() => showPanel(''), {
    pin: (key) => pin(key),
    hand: (raised) => call.raiseHand(raised),
    lock: (locked) => call.setLock(locked),
    lobby: (on) => call.setLobby(on),
    remove: (id, name) => confirmRemove(call, id, name),
    askMute: (id) => call.hostAction('ask-mute', id),
    makeHost: (id) => call.hostAction('make-host', id),
    admit: (id) => call.hostAction('admit', id),
    deny: (id) => call.hostAction('deny', id),
    copyHostLink: () => void copyLink(hostLink(inviteLink(location.origin, call.code, { e2ee: sec.e2ee, key: link.key }), hostKeyFor(call.code)),
      'Host link copied. Whoever opens it becomes a host: give it only to co-hosts or your own other devices.'),
  });
  chat.el.hidden = true;
  people.el.hidden = true;

  const micBtn = roundBtn('mic-button', 'Mute microphone', 'mic');
  const camBtn = roundBtn('cam-button', 'Stop camera', 'cam');
  const screenBtn = roundBtn('screen-button', 'Share screen', 'screen');
  const chatBtn = roundBtn('chat-button', 'Chat', 'chat');
  chatBtn.append(unreadDot);
  const peopleBtn = roundBtn('people-button', 'People', 'users');
  const lobbyDot = h('span', { class: 'unread', hidden: true, 'aria-hidden': 'true' });
  peopleBtn.append(lobbyDot);
  const handBtn = roundBtn('hand-button', 'Raise your hand (H)', 'hand');
  const settingsBtn = roundBtn('settings-button', 'Devices and noise suppression', 'settings');
  const leaveBtn = roundBtn('leave-button', 'Leave meeting', 'leave', 'danger');
  const layoutBtn = h('button', { class: 'pill-btn', type: 'button', id: 'layout-button' });
  const helpBtn = h('button', { class: 'icon-btn', type: 'button', id: 'help-button', 'aria-label': 'Keyboard shortcuts', title: 'Keyboard shortcuts (?)' }, icon('help'));
  const inviteBtn = h('button', { class: 'pill-btn', type: 'button', id: 'invite-button' }, icon('link'), h('span', { text: 'Copy invite link' }));
  if (!navigator.mediaDevices || !navigator.mediaDevices.getDisplayMedia) screenBtn.hidden = true;

  const banner = h('div', { class: 'conn-banner', id: 'conn-banner', role: 'status', 'aria-live': 'assertive', hidden: true });

  const syncControls = () => {
    const me = call.self;
    micBtn.replaceChildren(icon(me.audioMuted ? 'micOff' : 'mic'));
    micBtn.classList.toggle('off', me.audioMuted);
    micBtn.setAttribute('aria-label', me.audioMuted ? 'Unmute microphone (M)' : 'Mute microphone (M)');
    micBtn.setAttribute('aria-pressed', me.audioMuted ? 'true' : 'false');
    camBtn.replaceChildren(icon(me.videoMuted ? 'camOff' : 'cam'));
    camBtn.classList.toggle('off', me.videoMuted);
    camBtn.setAttribute('aria-label', me.videoMuted ? 'Start camera (V)' : 'Stop camera (V)');
    camBtn.setAttribute('aria-pressed', me.videoMuted ? 'true' : 'false');
    screenBtn.replaceChildren(icon(me.screen ? 'screenStop' : 'screen'));
    screenBtn.classList.toggle('active', !!me.screen);
    screenBtn.setAttribute('aria-label', me.screen ? 'Stop sharing the screen (S)' : 'Share the screen (S)');
    screenBtn.setAttribute('aria-pressed', me.screen ? 'true' : 'false');
    handBtn.classList.toggle('active', me.handRaised);
    handBtn.setAttribute('aria-label', me.handRaised ? 'Lower your hand (H)' : 'Raise your hand (H)');
    handBtn.setAttribute('aria-pressed', me.handRaised ? 'true' : 'false');
    layoutBtn.replaceChildren(icon(view === 'grid' ? 'speaker' : 'grid'), h('span', { text: view === 'grid' ? 'Speaker view' : 'Grid view' }));
    layoutBtn.setAttribute('aria-label', view === 'grid' ? 'Switch to speaker view (G)' : 'Switch to grid view (G)');
    for (const t of [micBtn, camBtn, screenBtn, handBtn]) t.title = t.getAttribute('aria-label') || '';
  };

  /** @param {''|'chat'|'people'} which */
  const showPanel = (which) => {
    chat.el.hidden = which !== 'chat';
    people.el.hidden = which !== 'people';
    chatBtn.classList.toggle('active', which === 'chat');
    peopleBtn.classList.toggle('active', which === 'people');
    chatBtn.setAttribute('aria-expanded', String(which === 'chat'));
    peopleBtn.setAttribute('aria-expanded', String(which === 'people'));
    // Resize the tiles before focusing: focusing while they still overflow
    // would scroll the whole page sideways.
    layout();
    if (which === 'chat') {
      unread = 0;
      unreadDot.hidden = true;
      chatBtn.setAttribute('aria-label', 'Chat');
      chat.input.focus({ preventScroll: true });
    }
    if (which === 'people') renderPeople();
  };
  const renderPeople = () => {
    if (!people.el.hidden) people.render(call.participants.values(), { pinned, meeting: call.meeting, isHost: call.isHost, lobby: call.lobby, hasHostKey: !!hostKeyFor(call.code) });
    count.textContent = String(call.participants.size || 1);
    // A host sees at a glance that someone waits to be let in.
    const waiting = call.isHost ? call.lobby.length : 0;
    lobbyDot.hidden = waiting === 0;
    lobbyDot.textContent = String(waiting);
    peopleBtn.setAttribute('aria-label', waiting ? 'People, ' + waiting + ' waiting to join' : 'People');
  };

  /** @param {string} key */
  const pin = (key) => {
    pinned = pinned === key ? '' : key;
    layout();
    renderPeople();
  };

  const toggleView = () => {
    view = view === 'grid' ? 'speaker' : 'grid';
    try {
      localStorage.setItem(VIEW_KEY, view);
    } catch {
      // Not remembered; the choice still applies to this call.
    }
    syncControls();
    layout();
  };

  micBtn.addEventListener('click', () => void call.setMicrophone(call.self.audioMuted));
  camBtn.addEventListener('click', () => void call.setCamera(call.self.videoMuted));
  screenBtn.addEventListener('click', () => void (call.self.screen ? call.stopScreenShare() : call.startScreenShare()));
  chatBtn.addEventListener('click', () => showPanel(chat.el.hidden ? 'chat' : ''));
  peopleBtn.addEventListener('click', () => showPanel(people.el.hidden ? 'people' : ''));
  settingsBtn.addEventListener('click', () => openSettings(call));
  handBtn.addEventListener('click', () => call.raiseHand(!call.self.handRaised));
  layoutBtn.addEventListener('click', toggleView);
  helpBtn.addEventListener('click', () => openHelp());
  leaveBtn.addEventListener('click', () => call.leave());
  inviteBtn.addEventListener('click', () => void copyLink(inviteLink(location.origin, call.code, { e2ee: sec.e2ee, key: link.key }),
    'Invite link copied. Anyone with it can join' + (sec.e2ee ? ' and decrypt the meeting.' : '.')));

  // Places the tiles: the grid, or the stage tile large with the others in
  // a strip. Tiles are moved, never rebuilt, so video keeps playing.
  const layout = () => {
    const infos = [...tiles.values()].map((t) => ({ key: t.key, id: t.id, self: t.self, screen: t.screen }));
    const choice = chooseLayout(infos, { pinned, view, speaker: call.activeSpeaker });
    if (pinned && choice.stage !== pinned) pinned = '';
    area.dataset.mode = choice.mode;
    for (const t of tiles.values()) {
      const parent = t.key === choice.stage ? stage : strip;
      if (t.el.parentElement !== parent) parent.append(t.el);
      t.setPinned(t.key === pinned);
    }
    // Keep the strip in joining order (self first) whatever moved.
    let i = 0;
    for (const t of tiles.values()) {
      if (t.el.parentElement !== strip) continue;
      if (strip.children[i] !== t.el) strip.insertBefore(t.el, strip.children[i] || null);
      i++;
    }
    if (choice.mode === 'grid') {
      const r = area.getBoundingClientRect();
      const { cols, tileW, tileH } = gridShape(Math.max(1, tiles.size), r.width || 1280, r.height || 720);
      strip.style.setProperty('--cols', String(cols));
      strip.style.setProperty('--tile-w', tileW + 'px');
      strip.style.setProperty('--tile-h', tileH + 'px');
    } else {
      strip.style.removeProperty('--cols');
      strip.style.removeProperty('--tile-w');
      strip.style.removeProperty('--tile-h');
    }
  };
  const areaSize = new ResizeObserver(() => layout());
  areaSize.observe(area);

  // Tell the server how large each remote video is shown, so it can pick a
  // fitting simulcast layer (0×0 when hidden); debounced because resizes
  // come in bursts.
  /** @type {Map<string, ReturnType<typeof setTimeout>>} */
  const layerTimers = new Map();
  /** @type {Map<string, string>} last size sent, by tile key */
  const sentSizes = new Map();
  /** @param {Tile} t */
  const reportSize = (t) => {
    // A tile whose video is pending (not authenticated yet) reports its own
    // size: its video element is hidden, but the frames must keep coming.
    const r = (t.pending ? t.el : t.video).getBoundingClientRect();
    const hidden = document.hidden || r.width === 0 || r.height === 0 || (t.el.classList.contains('no-video') && !t.pending);
    const w = hidden ? 0 : Math.round(r.width * devicePixelRatio);
    const hh = hidden ? 0 : Math.round(r.height * devicePixelRatio);
    const sz = w + 'x' + hh + '@' + call.selfId;
    if (sentSizes.get(t.key) === sz) return;
    sentSizes.set(t.key, sz);
    call.setRenderedSize(t.id, w, hh, t.screen ? 'screen' : 'camera');
  };
  /** @param {Tile} t */
  const scheduleSize = (t) => {
    clearTimeout(layerTimers.get(t.key));
    layerTimers.set(t.key, setTimeout(() => reportSize(t), 300));
  };
  const sizes = new ResizeObserver((entries) => {
    for (const e of entries) {
      const key = /** @type {HTMLElement} */ (e.target).dataset.key || '';
      const t = tiles.get(key);
      if (t) scheduleSize(t);
    }
  });
  document.addEventListener('visibilitychange', () => {
    for (const t of tiles.values()) if (!t.self) scheduleSize(t);
  }, { signal: ac.signal });

  /**
   * @param {Participant} p
   * @param {boolean} screen
   */
  const ensureTile = (p, screen) => {
    const key = (p.self ? 'self' : p.id) + (screen ? ':screen' : '');
    let t = tiles.get(key);
    const want = screen ? !!p.screen || p.screenPending : true;
    if (!want) {
      if (t) dropTile(key);
      return;
    }
    if (!t) {
      t = new Tile(p, { screen, onPin: pin });
      tiles.set(key, t);
      t.setSink(call.speakerId);
      strip.append(t.el);
      if (!p.self) sizes.observe(t.el);
      layout();
    } else {
      t.update(p);
    }
    if (!p.self) scheduleSize(t);
  };
  /** @param {string} key */
  const dropTile = (key) => {
    const t = tiles.get(key);
    if (!t) return;
    sizes.unobserve(t.el);
    clearTimeout(layerTimers.get(key));
    sentSizes.delete(key);
    t.remove();
    tiles.delete(key);
    layout();
  };

  call.on('update', (p) => {
    const hadScreen = tiles.has((p.self ? 'self' : p.id) + ':screen');
    ensureTile(p, false);
    ensureTile(p, true);
    if (hadScreen !== !!p.screen) layout();
    if (p.self) syncControls();
    renderPeople();
  });
  call.on('remove', ({ id }) => {
    dropTile(id);
    dropTile(id + ':screen');
    renderPeople();
  });
  call.on('meeting', () => renderPeople());
  call.on('lobby', () => renderPeople());
  call.on('active-speaker', () => {
    if (view === 'speaker') layout();
  });
  call.on('speaker', ({ sinkId }) => {
    for (const t of tiles.values()) t.setSink(sinkId);
  });
  call.on('chat', (m) => {
    chat.add(m);
    if (chat.el.hidden && !m.self) {
      unread++;
      unreadDot.hidden = false;
      unreadDot.textContent = String(unread);
      chatBtn.setAttribute('aria-label', 'Chat, ' + unread + ' unread');
    }
  });
  call.on('notice', ({ text }) => toast(text));

  // Connection trouble: a banner while reconnecting, a choice when given up.
  /** @type {import('./dialog.js').Dialog|null} */
  let lostDialog = null;
  call.on('drain', ({ message }) => {
    banner.hidden = false;
    banner.className = 'conn-banner warn';
    banner.replaceChildren(h('span', { text: message }));
  });
  call.on('connection', ({ state, message }) => {
    if (lostDialog) lostDialog.close();
    lostDialog = null;
    if (state === 'connected') {
      banner.hidden = true;
      return;
    }
    if (state === 'reconnecting') {
      banner.hidden = false;
      banner.className = 'conn-banner';
      banner.replaceChildren(h('span', { class: 'spinner small' }), h('strong', { text: 'Reconnecting…' }), h('span', { class: 'conn-why', text: message }));
      return;
    }
    if (state === 'lost') {
      banner.hidden = true;
      const rejoin = h('button', { class: 'btn btn-primary', type: 'button', id: 'rejoin-button' }, 'Rejoin');
      const leave = h('button', { class: 'btn', type: 'button', id: 'lost-leave-button' }, 'Leave');
      rejoin.addEventListener('click', () => call.rejoin());
      leave.addEventListener('click', () => call.leave());
      lostDialog = openDialog({ id: 'lost-dialog', title: 'Connection lost', body: [h('p', { text: message })], buttons: [rejoin, leave], dismissable: false });
    }
  });

  // Keyboard shortcuts.
  document.addEventListener('keydown', (ev) => {
    if (document.querySelector('.backdrop')) return;
    const action = shortcutFor(ev);
    if (!action) return;
    ev.preventDefault();
    switch (action) {
      case 'mic': micBtn.click(); break;
      case 'camera': camBtn.click(); break;
      case 'screen': if (!screenBtn.hidden) screenBtn.click(); break;
      case 'chat': chatBtn.click(); break;
      case 'people': peopleBtn.click(); break;
      case 'hand': handBtn.click(); break;
      case 'layout': toggleView(); break;
      case 'settings': openSettings(call); break;
      case 'help': openHelp(); break;
      case 'leave': call.leave(); break;
    }
  }, { signal: ac.signal });
  call.on('ended', () => {
    ac.abort();
    sizes.disconnect();
    areaSize.disconnect();
    for (const id of layerTimers.values()) clearTimeout(id);
    banner.remove();
  });

  mount(root, h('main', { class: 'call' },
    h('header', { class: 'call-bar' },
      h('div', { class: 'brand small' }, h('span', { class: 'brand-mark' }), h('span', { class: 'brand-name', text: 'MonkeyThorn Meet' })),
      h('div', { class: 'room-code' }, h('code', { text: call.code })),
      securityBadge,
      h('button', { class: 'people pill-btn', type: 'button', title: 'People', 'aria-label': 'People in the meeting', onclick: () => peopleBtn.click() }, icon('users'), count),
      helpBtn),
    h('div', { class: 'call-body' }, area, chat.el, people.el),
    h('footer', { class: 'controls' },
      h('div', { class: 'controls-left' }, inviteBtn),
      h('div', { class: 'controls-center', role: 'toolbar', 'aria-label': 'Call controls' }, micBtn, camBtn, screenBtn, handBtn, chatBtn, peopleBtn, settingsBtn, leaveBtn),
      h('div', { class: 'controls-right' }, layoutBtn)),
    banner));
  for (const p of call.participants.values()) call.emit('update', p);
  syncControls();
  layout();
  renderPeople();
  if (call.listenOnly) toast('No camera or microphone could be opened: you joined listen-only. Others can still see and hear you once you turn one on.', 8000);
}

/**
 * The devices dialog: camera, microphone, speaker and noise suppression,
 * applied at once (replaceTrack, no renegotiation).
 * @param {Call} call
 */
function openSettings(call) {
  /** @returns {import('./devicepicker.js').PickerState} */
  const state = () => ({ videoId: deviceOf(call.self.video), audioId: deviceOf(call.self.audio), speakerId: call.speakerId, noise: call.noise.on });
  const picker = devicePicker(state(), {
    camera: (id) => void call.useDevice('videoinput', id),
    microphone: (id) => void call.useDevice('audioinput', id),
    speaker: (id) => call.useSpeaker(id),
    noise: (on) => void call.setNoiseSuppression(on).then(() => picker.setNoiseNote(noiseNote(call.noise.mode))),
  });
  picker.setNoiseNote(noiseNote(call.noise.mode));
  const off = call.on('update', (p) => {
    if (p.self) picker.setNoiseNote(noiseNote(call.noise.mode));
  });
  openDialog({ id: 'settings-dialog', title: 'Devices', body: [picker.el], onClose: off });
}

/**
 * Copies a link and says so, or shows it to copy by hand.
 * @param {string} url
 * @param {string} done
 */
async function copyLink(url, done) {
  try {
    await navigator.clipboard.writeText(url);
    toast(done);
  } catch {
    prompt('Copy this link:', url);
  }
}

/**
 * Asks a host to confirm removing someone: it cannot be undone for this
 * meeting.
 * @param {Call} call
 * @param {string} id
 * @param {string} name
 */
function confirmRemove(call, id, name) {
  if (document.getElementById('remove-dialog')) return;
  const yes = h('button', { class: 'btn btn-danger', type: 'button', id: 'confirm-remove' }, 'Remove');
  const no = h('button', { class: 'btn', type: 'button' }, 'Cancel');
  const d = openDialog({
    id: 'remove-dialog', title: 'Remove ' + name + '?',
    body: [h('p', { text: name + ' will be disconnected at once and cannot come back on this connection. Anyone with the invite link could join again: lock the meeting or turn on the lobby to keep them out.' })],
    buttons: [no, yes],
  });
  yes.addEventListener('click', () => {
    call.hostAction('remove', id);
    d.close();
  });
  no.addEventListener('click', () => d.close());
}

/** The keyboard help overlay. */
function openHelp() {
  if (document.getElementById('help-dialog')) return;
  openDialog({
    id: 'help-dialog',
    title: 'Keyboard shortcuts',
    body: [h('dl', { class: 'shortcuts' }, ...SHORTCUTS.flatMap((s) => [h('dt', {}, h('kbd', { text: s.keys })), h('dd', { text: s.what })]))],
  });
}

/**
 * Shows the screen after a call ended or failed.
 * @param {HTMLElement} root
 * @param {{title: string, message: string, error: boolean, rejoin?: () => void, rejoinLabel?: string}} o
 */
export function renderEnded(root, o) {
  mount(root, h('main', { class: 'ended' },
    h('section', { class: 'ended-card' + (o.error ? ' error' : ''), role: o.error ? 'alert' : 'status' },
      h('h1', { text: o.title }),
      h('p', { id: 'ended-message', text: o.message }),
      h('div', { class: 'row' },
        o.rejoin ? h('button', { class: 'btn btn-primary', type: 'button', id: 'ended-rejoin', onclick: o.rejoin }, o.rejoinLabel || 'Rejoin') : null,
        h('a', { class: 'btn', href: '/' }, 'Home')))));
}
