// The call controller: joins a room with a Session, keeps the list of
// participants (names opened with the room key, media tracks, mute and
// decryption state) and the chat, and tells the UI what changed. No DOM
// access; the UI and the test hook read the same state.

import { Emitter } from './emitter.js';
import { Session, JoinError, meetingState, lobbyEntries } from './session.js';
import { hostKeyFor, forgetHostKey } from './host.js';
import { joinToken, ApiError } from './api.js';
import { capture, captureScreen } from './media.js';
import { NoiseSuppressor, browserNoiseSuppression } from './noise.js';
import { receiveQuality, sendQuality } from './quality.js';

/**
 * Signaling error codes after which rejoining cannot help: the call ends
 * with the server's message. Anything else (a lost socket, a server
 * restart, "draining", the SFU dropping our media) is retried.
 */
const FINAL_CODES = new Set(['room-full', 'unauthorized', 'duplicate', 'e2ee-mismatch', 'not-joined', 'too-many-errors', 'bad-message',
  'locked', 'removed', 'denied', 'lobby-full',
  // A limit refused us (docs/security.md): retrying at once would only be
  // refused again; the message says when to try.
  'busy']);

/**
 * The participant id a join token gives (its JWT subject), '' if it has
 * none we can read. Only used to seal our profile before the welcome.
 * @param {string} token
 * @returns {string}
 */
export function tokenSubject(token) {
  try {
    const part = token.split('.')[1] || '';
    const claims = JSON.parse(atob(part.replace(/-/g, '+').replace(/_/g, '/')));
    return claims && typeof claims.sub === 'string' ? claims.sub : '';
  } catch {
    return '';
  }
}

/** How long reconnection is tried before the user is asked. */
export const RECONNECT_GIVE_UP_MS = 45000;

/**
 * A media connection "disconnected" this long: restart ICE on both
 * connections (new paths, same session); "failed" restarts at once.
 */
const ICE_RESTART_MS = 1000;

/** Not connected again this long after an ICE restart: rejoin. */
const ICE_REJOIN_MS = 6000;

/**
 * On "drain" the call rejoins after a random delay up to this long, so the
 * calls of a node that restarts do not all arrive at the next one at once.
 */
export const DRAIN_JITTER_MS = 400;

/**
 * After a drain, rejoining is tried this often (plus jitter) for
 * DRAIN_FAST_MS: the restarted node, or another one, is there within a
 * second or two and every attempt that waits longer is a longer gap.
 */
const DRAIN_RETRY_MS = 250;
const DRAIN_FAST_MS = 20000;

/** @typedef {import('./quality.js').Quality} Quality */
/** @typedef {import('./noise.js').NoiseMode} NoiseMode */
/** @typedef {'connecting'|'connected'|'reconnecting'|'lost'} ConnectionState */

/** @typedef {'ok'|'failing'|'unknown'|'off'} DecryptState */

/** How often our sealed profile is sent again with a fresh time (docs/e2ee.md §5.1). */
export const PROFILE_REFRESH_MS = 60000;
/** How often stale profiles are looked for. */
const EXPIRE_EVERY_MS = 10000;

/**
 * One received media track and whether its frames authenticate. It is
 * rendered (set as the participant's audio, video or screen) only while
 * its state is "ok" (or "off" in rooms without encryption).
 * @typedef {object} RemoteTrack
 * @property {string} participant
 * @property {string} kind
 * @property {string} source
 * @property {MediaStreamTrack} track
 * @property {DecryptState} state
 * @property {string} reason why its frames are dropped, when failing
 */

/**
 * One person in the call, ourselves included.
 * @typedef {object} Participant
 * @property {string} id
 * @property {boolean} self
 * @property {string} name display name ('' while unknown or unreadable)
 * @property {boolean} nameUnreadable the sealed name could not be opened with our key
 * @property {DecryptState} decrypt whether this participant's media decrypts with our key (failing if any track fails)
 * @property {string} problem why a track of theirs is refused ('' when none is): a drop reason of the E2EE worker
 * @property {string} profileRefused why their last sealed profile was refused ('stale', 'replay'; '' when none was)
 * @property {boolean} videoPending a camera track arrived but is not shown (yet): its frames do not authenticate
 * @property {boolean} screenPending the same for a shared screen
 * @property {boolean} audioMuted
 * @property {boolean} videoMuted
 * @property {MediaStreamTrack|null} audio
 * @property {MediaStreamTrack|null} video
 * @property {MediaStreamTrack|null} screen shared screen, if sharing
 * @property {boolean} speaking
 * @property {Quality} quality of their media as we receive it (ours: as the server receives it)
 * @property {boolean} handRaised
 * @property {boolean} host
 */

/**
 * Someone waiting in the lobby, as a host sees them.
 * @typedef {object} Waiter
 * @property {string} id
 * @property {string} name display name ('' while unknown)
 * @property {boolean} nameUnreadable
 */

/**
 * @typedef {object} ChatMessage
 * @property {string} from participant id
 * @property {string} name sender's display name at the time
 * @property {string} text '' when unreadable
 * @property {boolean} self
 * @property {boolean} readable false when it could not be decrypted
 * @property {boolean} [system] a warning of the page itself, not a message from anyone
 * @property {number} at Date.now() on arrival
 */

/**
 * @typedef {object} CallEvents
 * @property {Participant} update a participant was added or changed
 * @property {{id: string}} remove a participant left
 * @property {ChatMessage} chat
 * @property {{text: string}} notice something the user should know, shown briefly
 * @property {{reason: string, error: boolean}} ended
 * @property {{state: ConnectionState, message: string}} connection
 * @property {{message: string, deadline: number}} drain the server announced a restart
 * @property {{sinkId: string}} speaker the chosen audio output changed
 * @property {{id: string}} active-speaker the loudest other participant changed
 * @property {import('./session.js').MeetingState} meeting hosts, lock or lobby changed
 * @property {{waiting: Waiter[]}} lobby who waits to be let in changed (hosts)
 * @property {{}} waiting we wait in the lobby for a host
 */

/**
 * @typedef {object} CallConfig
 * @property {string} code room code
 * @property {string} name our display name
 * @property {import('./secure.js').RoomSecurity} security
 * @property {MediaStreamTrack|null} audio microphone track (owned by the call from now on)
 * @property {MediaStreamTrack|null} video camera track (owned by the call from now on)
 * @property {boolean} [lowVideo] reopen the camera with small, slow video
 * @property {boolean} [simulcast] send the camera as three layers
 * @property {boolean} [noise] start with noise suppression on (default true)
 * @property {string} [speakerId] audio output chosen on the pre-join screen
 */

/** @extends {Emitter<CallEvents>} */
export class Call extends Emitter {
  /** @param {CallConfig} cfg */
  constructor(cfg) {
    super();
    this.code = cfg.code;
    this.security = cfg.security;
    /** @type {Map<string, Participant>} */
    this.participants = new Map();
    /** @type {ChatMessage[]} */
    this.messages = [];
    /** @type {Session|null} */
    this.session = null;
    this.selfId = '';
    this._name = cfg.name;
    this._lowVideo = !!cfg.lowVideo;
    this._simulcast = !!cfg.simulcast;
    /** @type {Participant} */
    this.self = {
      id: '', self: true, name: cfg.name, nameUnreadable: false, decrypt: cfg.security.e2ee ? 'ok' : 'off', problem: '', profileRefused: '', videoPending: false, screenPending: false,
      audioMuted: !cfg.audio, videoMuted: !cfg.video, audio: cfg.audio, video: cfg.video, screen: null, speaking: false, quality: 'unknown',
      handRaised: false, host: false,
    };
    /** @type {import('./session.js').MeetingState} */
    this.meeting = { hosts: [], locked: false, lobby: false };
    /** @type {Waiter[]} who waits in the lobby (seen by hosts only) */
    this.lobby = [];
    /** @type {{id: string, ticket: string}|null} our id and rejoin ticket, for reconnecting */
    this._rejoin = null;
    this._knewMeeting = false;
    this._lobbySeq = 0;
    /** The other participant who spoke last (from the server's speaker detection). */
    this.activeSpeaker = '';
    /** Joined without camera and microphone: can listen and watch only. */
    this.listenOnly = !cfg.audio && !cfg.video;
    /** @type {{on: boolean, mode: NoiseMode}} */
    this.noise = { on: cfg.noise !== false, mode: 'off' };
    this._suppressor = new NoiseSuppressor();
    /** @type {MediaStreamTrack|null} the microphone track handed to the session (cleaned or raw) */
    this._sentAudio = cfg.audio;
    /** Audio output for everyone's sound; '' is the default. */
    this.speakerId = cfg.speakerId || '';
    /** @type {ConnectionState} */
    this.connection = 'connecting';
    /** Last fatal error code from the server, to tell a final end from a drop. */
    this._fatalCode = '';
    /** @type {ReturnType<typeof setTimeout>|undefined} */
    this._retryTimer = undefined;
    /** @type {ReturnType<typeof setTimeout>|undefined} ICE restart after a media connection dropped */
    this._iceTimer = undefined;
    /** @type {ReturnType<typeof setTimeout>|undefined} rejoin when the ICE restart did not help */
    this._rejoinTimer = undefined;
    /** @type {Record<string, RTCPeerConnectionState>} state of each media connection, by name */
    this._pcStates = {};
    /** ICE restarts tried, for tests and the UI. */
    this.iceRestarts = 0;
    // A new network (Wi-Fi to mobile, back online): new paths at once.
    this._onOnline = () => this._restartIce();
    window.addEventListener('online', this._onOnline);
    /** @type {ReturnType<typeof setInterval>|undefined} */
    this._qualityTimer = undefined;
    this._reconnectSince = 0;
    this._attempt = 0;
    /** The server announced a drain on the current session. */
    this._drained = false;
    /**
     * The connection to the room's node broke without a drain (a crash, most
     * likely): the next token request says so, and the server checks that
     * node at once instead of waiting for its heartbeat to go missing.
     */
    this._hostLost = false;
    /** Until then (Date.now()), rejoin attempts come every DRAIN_RETRY_MS. */
    this._fastUntil = 0;
    /** @type {ReturnType<typeof setTimeout>|undefined} */
    this._drainTimer = undefined;
    /** Reconnections that succeeded, for tests and the UI. */
    this.reconnects = 0;
    /** @type {Map<string, import('./quality.js').ReceiveSample>} */
    this._samples = new Map();
    /** Last sealed profile seen per participant, to open each only once. */
    /** @type {Map<string, string>} */
    this._profiles = new Map();
    /** Received tracks by the handle the E2EE library gave their receiver. */
    /** @type {Map<number, RemoteTrack>} */
    this._tracks = new Map();
    /** States that arrived before their track did. */
    /** @type {Map<number, {state: string, reason: string}>} */
    this._earlyTrackStates = new Map();
    /** Warnings already shown, so a repeated attack does not flood the chat. */
    /** @type {Set<string>} */
    this._warned = new Set();
    /** @type {ReturnType<typeof setInterval>|undefined} */
    this._profileTimer = undefined;
    this._ended = false;
    /** Chosen devices ('' = default), used when a device is reopened. */
    this._audioId = '';
    this._videoId = '';
    cfg.security.onDecryptState((handle, state, reason) => this._onTrackState(handle, state, reason));
  }

  /** Gets a token, connects and starts sending media. */
  async join() {
    await this._applyNoise();
    const welcome = await this._open();
    this._joined(welcome);
    this._qualityTimer = setInterval(() => void this._sampleQuality(), 2000);
    let ticks = 0;
    this._profileTimer = setInterval(() => {
      this.security.expirePeers();
      if (++ticks % Math.round(PROFILE_REFRESH_MS / EXPIRE_EVERY_MS) === 0) void this._sendProfile();
    }, EXPIRE_EVERY_MS);
  }

  /** Seals our name with the time and sends it (after every join, then every minute). */
  async _sendProfile() {
    const s = this.session;
    if (!s || !this.selfId) return;
    const sealed = await this.security.sealProfile(this._name);
    if (this.session === s) s.setProfile(sealed);
  }

  /**
   * A warning in the chat: something the server did was refused.
   * @param {string} text
   */
  _warn(text) {
    if (this._warned.has(text)) return;
    this._warned.add(text);
    this._remember({ from: '', name: '', text, self: false, readable: true, system: true, at: Date.now() });
  }

  /**
   * Takes our place in the room after a (re)join.
   * @param {import('./session.js').Welcome} welcome
   */
  _joined(welcome) {
    if (this.selfId) this.participants.delete(this.selfId);
    this.selfId = welcome.id;
    this.self.id = welcome.id;
    this.participants.set(welcome.id, this.self);
    // People who left while we were away are gone from the welcome.
    const present = new Set((welcome.participants || []).map((p) => p.id));
    for (const p of [...this.participants.values()]) if (!p.self && !present.has(p.id)) this._onLeft(p.id);
    this._fatalCode = '';
    this._rejoin = welcome.rejoin ? { id: welcome.id, ticket: welcome.rejoin } : null;
    this._setConnection('connected', '');
    this._onMeeting(meetingState(welcome.meeting));
    void this._onLobby(lobbyEntries(welcome.lobby));
    this.emit('update', this.self);
    if (this.session) this.session.setMute({ audioMuted: this.self.audioMuted, videoMuted: this.self.videoMuted });
    if (this.session && this.self.handRaised) this.session.setHand(true);
  }

  /**
   * Opens a signaling session with a fresh token and starts publishing.
   * Events of a session that has been replaced are ignored.
   * @returns {Promise<import('./session.js').Welcome>}
   */
  async _open() {
    const sec = this.security;
    const tok = await this._token();
    // The profile is sealed to our participant id (docs/e2ee.md §5): the
    // one a rejoin ticket keeps, else the token's subject. If the welcome
    // names us otherwise, it is sealed again and sent after it.
    const expected = this._rejoin ? this._rejoin.id : tokenSubject(tok.token);
    let profile;
    if (expected) {
      sec.startJoin(expected);
      profile = await sec.sealProfile(this._name);
    }
    const s = new Session({ wsUrl: tok.ws, token: tok.token, iceServers: tok.iceServers, profile, transforms: sec.transforms, rejoin: this._rejoin });
    this.session = s;
    /**
     * @template {keyof import('./session.js').SessionEvents} K
     * @param {K} name
     * @param {(payload: import('./session.js').SessionEvents[K]) => void} fn
     */
    const on = (name, fn) => s.on(name, (payload) => {
      if (this.session === s && !this._ended) fn(payload);
    });
    on('welcome', (w) => {
      this.selfId = w.id;
      if (w.id === expected) return;
      sec.startJoin(w.id);
      void this._sendProfile();
    });
    on('refused', ({ what }) => this._warn('The server announced an invalid ' + what + '. It was refused: nothing of it is shown or played.'));
    on('participant-joined', (r) => this._onRemote(r));
    on('participant-updated', (r) => this._onRemote(r));
    on('participant-left', ({ id }) => this._onLeft(id));
    on('track', (t) => this._onTrack(t.handle, t.participant, t.kind, t.source, t.track));
    on('track-ended', (t) => this._onTrackEnded(t.participant, t.track));
    on('track-source', ({ handle, source }) => {
      const t = this._tracks.get(handle);
      if (!t) return;
      t.source = source;
      t.state = this.security.e2ee ? 'unknown' : 'off';
      const p = this.participants.get(t.participant);
      if (p) this._render(p);
    });
    on('chat', (m) => void this._onChat(m.from, m.data));
    on('speakers', ({ ids }) => this._onSpeakers(ids));
    on('error', (e) => {
      if (e.fatal) this._fatalCode = e.code;
      else this.emit('notice', { text: e.message });
    });
    // The node is going away: leave it now and rejoin (another node takes
    // the meeting, or the restarted one), rather than hold it until the
    // deadline and be cut off then.
    on('drain', (d) => {
      this._drained = true;
      this.emit('drain', { message: d.message || 'The server is restarting. You will be reconnected.', deadline: d.deadline });
      clearTimeout(this._drainTimer);
      this._drainTimer = setTimeout(() => {
        this._fastUntil = Date.now() + DRAIN_FAST_MS;
        this._reconnect('The server is restarting; moving the call.', DRAIN_RETRY_MS);
      }, Math.random() * DRAIN_JITTER_MS);
    });
    // The room moved to another node (multi-node, after a Redis outage):
    // rejoin; the fresh token names the node that hosts it now.
    on('redirect', () => this._reconnect('The meeting moved to another server.'));
    on('closed', ({ reason }) => this._onClosed(reason));
    on('waiting', () => this.emit('waiting', {}));
    on('meeting', (m) => this._onMeeting(m));
    on('lobby', ({ waiting }) => void this._onLobby(waiting));
    on('removed', ({ id, by }) => this._onRemoved(id, by));
    on('mute-request', ({ from }) => void this._onMuteRequest(from));
    on('connection', ({ pc, state }) => this._onMediaState(pc, state));
    const tracks = /** @type {MediaStreamTrack[]} */ ([this._sentAudio, this.self.video].filter(Boolean));
    const welcome = await s.join({ stream: new MediaStream(tracks), audio: this._sentAudio, video: this.self.video, simulcast: this._simulcast, fixedCapture: this._lowVideo });
    if (welcome.e2ee !== sec.e2ee) {
      this._fatalCode = 'e2ee-mismatch';
      s.leave();
      throw new JoinError('e2ee-mismatch', welcome.e2ee
        ? 'This meeting is end-to-end encrypted, but this link has no key. Ask for the full invite link.'
        : 'This meeting was created without end-to-end encryption. Open it with the link that ends in "?e2ee=off".');
    }
    if (this.self.screen) await s.startScreen(this.self.screen);
    return welcome;
  }

  /**
   * A join token, as a host when this browser holds the room's host key.
   * A key the server does not accept is forgotten, and we join as a guest.
   * @returns {Promise<import('./api.js').TokenReply>}
   */
  async _token() {
    const key = hostKeyFor(this.code);
    try {
      return await joinToken(this.code, this.security.e2ee, key, this._hostLost);
    } catch (err) {
      if (!key || !(err instanceof ApiError) || err.status !== 403) throw err;
      forgetHostKey(this.code);
      this.emit('notice', { text: 'The host key this browser kept for this meeting is not valid; you joined as a guest.' });
      return joinToken(this.code, this.security.e2ee, '', this._hostLost);
    }
  }

  /**
   * @param {string} id
   * @param {string} sealed
   * @returns {Promise<string|null>} the name in a sealed profile of id, null when refused
   */
  async _openName(id, sealed) {
    const { name, why } = await this.security.receiveProfile(id, sealed);
    return why ? null : name.slice(0, 64);
  }

  /** @param {import('./session.js').MeetingState} m */
  _onMeeting(m) {
    const wasHost = this.self.host;
    this.meeting = m;
    const hosts = new Set(m.hosts);
    for (const p of this.participants.values()) {
      const host = hosts.has(p.id);
      if (p.host !== host) {
        p.host = host;
        this.emit('update', p);
      }
    }
    // At our own welcome it is no news; later it is (a hand-over, or the
    // last host left and we have been here longest).
    if (!wasHost && this.self.host && this._knewMeeting) this.emit('notice', { text: 'You are now a host of this meeting.' });
    this._knewMeeting = true;
    if (!this.self.host) this.lobby = [];
    this.emit('meeting', m);
  }

  /**
   * Opens the sealed names of the people waiting, for the hosts' list.
   * @param {import('./session.js').LobbyEntry[]} entries
   */
  async _onLobby(entries) {
    // Names open asynchronously: a list that arrived later must win.
    const seq = ++this._lobbySeq;
    /** @type {Waiter[]} */
    const list = await Promise.all(entries.map(async (e) => {
      const name = e.profile ? await this._openName(e.id, e.profile) : '';
      return { id: e.id, name: name || '', nameUnreadable: name === null };
    }));
    if (seq !== this._lobbySeq) return;
    const before = new Set(this.lobby.map((w) => w.id));
    this.lobby = list;
    for (const w of list) {
      if (!before.has(w.id)) this.emit('notice', { text: (w.nameUnreadable ? 'Someone whose name cannot be decrypted' : w.name || 'A guest') + ' is waiting to be let in.' });
    }
    this.emit('lobby', { waiting: list });
  }

  /**
   * @param {string} id
   * @param {string} by
   */
  _onRemoved(id, by) {
    const p = this.participants.get(id);
    const who = p ? (p.nameUnreadable ? 'Someone whose name cannot be decrypted' : p.name || 'A guest') : 'Someone';
    const host = by === this.selfId ? 'You' : this._nameOf(by) || 'A host';
    this.emit('notice', { text: host + ' removed ' + who + ' from the meeting.' });
  }

  /**
   * A host asks us to mute: the server cannot mute encrypted audio, so
   * this browser does it, and says who asked.
   * @param {string} from
   */
  async _onMuteRequest(from) {
    const who = this._nameOf(from) || 'A host';
    if (this.self.audioMuted) {
      this.emit('notice', { text: who + ' asked you to mute; your microphone is already off.' });
      return;
    }
    await this.setMicrophone(false);
    this.emit('notice', { text: who + ' (host) muted your microphone. Unmute it when you want to speak.' });
  }

  /**
   * @param {string} id
   * @returns {string}
   */
  _nameOf(id) {
    const p = this.participants.get(id);
    return p && !p.nameUnreadable ? p.name : '';
  }

  /** The code of the fatal error that ended the call, if any. */
  get fatalCode() {
    return this._fatalCode;
  }

  /** Whether we are a host of the meeting. */
  get isHost() {
    return this.self.host;
  }

  /**
   * Raises or lowers our hand; the others see it in their grid and list.
   * @param {boolean} raised
   */
  raiseHand(raised) {
    this.self.handRaised = raised;
    if (this.session) this.session.setHand(raised);
    this.emit('update', this.self);
  }

  /**
   * A host action on a participant (the server checks we are a host).
   * @param {'remove'|'admit'|'deny'|'make-host'|'ask-mute'} action
   * @param {string} id ('' with ask-mute: everyone else)
   */
  hostAction(action, id) {
    if (!this.session) return;
    this.session.hostAction(action, id);
    if (action === 'admit' || action === 'deny') {
      this.lobby = this.lobby.filter((w) => w.id !== id);
      this.emit('lobby', { waiting: this.lobby });
    }
  }

  /** @param {boolean} locked */
  setLock(locked) {
    if (this.session) this.session.setLock(locked);
  }

  /** @param {boolean} on */
  setLobby(on) {
    if (this.session) this.session.setLobby(on);
  }

  /**
   * The signaling connection closed without us leaving.
   * @param {string} reason
   */
  _onClosed(reason) {
    if (FINAL_CODES.has(this._fatalCode)) {
      this._end(reason || 'The server ended the call.', true);
      return;
    }
    // Closed without a drain: the node is likely gone. Rejoin at once and
    // say so, so the room is placed on a live node now (docs/scaling.md).
    const abrupt = !this._drained;
    if (abrupt) this._hostLost = true;
    this._reconnect(reason || 'The connection to the server was lost.', abrupt ? 0 : 300);
  }

  /**
   * State of one media connection. "failed", or "disconnected" for a
   * moment, means the network dropped or changed: restart ICE, and rejoin
   * only if media is not back soon after, rather than wait for a signaling
   * time-out that can take most of a minute.
   * @param {string} pc "pub" or "sub"
   * @param {RTCPeerConnectionState} state
   */
  _onMediaState(pc, state) {
    this._pcStates[pc] = state;
    const states = Object.values(this._pcStates);
    if (states.every((s) => s !== 'disconnected' && s !== 'failed')) {
      if (states.every((s) => s === 'connected')) {
        clearTimeout(this._iceTimer);
        clearTimeout(this._rejoinTimer);
        this._iceTimer = undefined;
        this._rejoinTimer = undefined;
      }
      return;
    }
    if (this._iceTimer === undefined) {
      const failed = states.includes('failed');
      this._iceTimer = setTimeout(() => this._restartIce(), failed ? 0 : ICE_RESTART_MS);
    }
    if (this._rejoinTimer === undefined) {
      this._rejoinTimer = setTimeout(() => this._reconnect('The network connection dropped.'), ICE_RESTART_MS + ICE_REJOIN_MS);
    }
  }

  /**
   * Restarts ICE on both media connections: after a network change or a
   * short outage media comes back on a new path within a round trip or
   * two, without leaving the room. A rejoin follows only if it does not.
   */
  _restartIce() {
    if (this._ended || !this.session || this.connection === 'reconnecting') return;
    this.iceRestarts++;
    this.session.restartIce();
  }

  /**
   * Drops the current session and rejoins with a fresh token until it
   * works or RECONNECT_GIVE_UP_MS pass; then the user chooses (rejoin()).
   * @param {string} why
   * @param {number} [delay] ms before the first attempt
   */
  _reconnect(why, delay = 300) {
    if (this._ended || this.connection === 'reconnecting') return;
    clearTimeout(this._iceTimer);
    clearTimeout(this._rejoinTimer);
    this._iceTimer = undefined;
    this._rejoinTimer = undefined;
    this._pcStates = {};
    const old = this.session;
    this.session = null;
    // Tells the server at once if it still hears us, so the others do not
    // see a frozen tile until the time-out; its events are ignored now.
    if (old) old.leave();
    for (const p of this.participants.values()) {
      if (p.self || (!p.audio && !p.video && !p.screen)) continue;
      p.audio = null;
      p.video = null;
      p.screen = null;
      this.emit('update', p);
    }
    this._samples.clear();
    this._tracks.clear();
    this._earlyTrackStates.clear();
    this._reconnectSince = Date.now();
    this._attempt = 0;
    this._setConnection('reconnecting', why);
    this._retryTimer = setTimeout(() => void this._tryReconnect(), delay);
  }

  async _tryReconnect() {
    if (this._ended) return;
    this._attempt++;
    try {
      const welcome = await this._open();
      if (this._ended) return;
      this.reconnects++;
      this._hostLost = false;
      this._drained = false;
      this._joined(welcome);
      this.emit('notice', { text: 'Reconnected.' });
    } catch (err) {
      if (this._ended) return;
      const s = this.session;
      this.session = null;
      if (s) s.leave();
      const code = err instanceof JoinError ? err.code : '';
      if (FINAL_CODES.has(code)) {
        this._end(err instanceof Error ? err.message : String(err), true);
        return;
      }
      if (Date.now() - this._reconnectSince > RECONNECT_GIVE_UP_MS) {
        const unreachable = err instanceof ApiError && err.status === 0 || code === 'network' || code === 'timeout';
        this._setConnection('lost', unreachable
          ? 'The meeting server cannot be reached. Check your connection, then rejoin.'
          : 'The connection to the meeting was lost (' + (err instanceof Error ? err.message : String(err)) + ').');
        return;
      }
      // The node the token named did not answer: the next token request
      // reports it, and comes soon, since the server checks that node then.
      if (code === 'network') this._hostLost = true;
      // Every second or so for the first half minute, so a blip of a few
      // seconds costs little more than the blip; then every 4 s. After a
      // drain, more often: the next node is known to come at once.
      const step = this._hostLost ? 250 : 500;
      let wait = Date.now() - this._reconnectSince < 30000 ? Math.min(1500, step * this._attempt) : 4000;
      if (Date.now() < this._fastUntil) wait = DRAIN_RETRY_MS + Math.random() * 100;
      this._retryTimer = setTimeout(() => void this._tryReconnect(), wait);
    }
  }

  /** After the connection was given up ("lost"): try again now. */
  rejoin() {
    if (this._ended || this.connection !== 'lost') return;
    this.connection = 'connected';
    this._reconnect('Rejoining…');
  }

  /**
   * @param {ConnectionState} state
   * @param {string} message
   */
  _setConnection(state, message) {
    if (this.connection === state) return;
    this.connection = state;
    this.emit('connection', { state, message });
  }

  /** Samples receive and send statistics and updates each tile's quality. */
  async _sampleQuality() {
    const s = this.session;
    if (!s || this.connection !== 'connected') return;
    const [recv, send] = await Promise.all([s.stats(), s.sendStats()]);
    if (this.session !== s) return;
    for (const p of this.participants.values()) {
      /** @type {Quality} */
      let q;
      if (p.self) {
        q = this.self.audio || this.self.video || this.self.screen ? sendQuality(send) : 'unknown';
      } else {
        const st = recv.get(p.id);
        if (!st || (!p.audio && !p.video && !p.screen)) {
          q = 'unknown';
        } else {
          const cur = { packets: st.videoPacketsReceived + st.audioPacketsReceived, lost: st.packetsLost, jitter: st.jitter };
          q = receiveQuality(this._samples.get(p.id) || null, cur);
          this._samples.set(p.id, cur);
        }
      }
      if (q !== p.quality) {
        p.quality = q;
        this.emit('update', p);
      }
    }
  }

  /**
   * @param {import('./session.js').Remote} r
   */
  async _onRemote(r) {
    let p = this.participants.get(r.id);
    if (!p) {
      p = {
        id: r.id, self: false, name: '', nameUnreadable: false, decrypt: this.security.e2ee ? 'unknown' : 'off', problem: '', profileRefused: '', videoPending: false, screenPending: false,
        audioMuted: r.audioMuted, videoMuted: r.videoMuted, audio: null, video: null, screen: null, speaking: false, quality: 'unknown',
        handRaised: r.handRaised, host: this.meeting.hosts.includes(r.id),
      };
      this.participants.set(r.id, p);
    }
    p.audioMuted = r.audioMuted;
    p.videoMuted = r.videoMuted;
    if (r.handRaised && !p.handRaised && p.name) this.emit('notice', { text: p.name + ' raised a hand.' });
    p.handRaised = r.handRaised;
    this.emit('update', p);
    if (r.profile && r.profile !== this._profiles.get(r.id)) {
      this._profiles.set(r.id, r.profile);
      const { name, why } = await this.security.receiveProfile(r.id, r.profile);
      if (this.participants.get(r.id) !== p) return;
      if (why === 'stale' || why === 'replay') {
        // An old profile the server kept: the name (if any) stays what it
        // was, and the page says the server tried.
        p.profileRefused = why;
        this._warn('The server sent an old, replayed profile for a participant. It was refused; their media is not shown until they send a fresh one.');
      } else {
        p.name = why ? '' : name.slice(0, 64);
        p.nameUnreadable = !!why;
        p.profileRefused = '';
      }
      this.emit('update', p);
    }
  }

  /** @param {string} id */
  _onLeft(id) {
    const p = this.participants.get(id);
    if (!p || p.self) return;
    this.participants.delete(id);
    this._profiles.delete(id);
    this._samples.delete(id);
    this.security.forget(id);
    for (const [h, t] of this._tracks) if (t.participant === id) this._tracks.delete(h);
    this.emit('remove', { id });
  }

  /**
   * A received track: kept, and rendered only once its frames
   * authenticate (fail closed: docs/e2ee.md §8).
   * @param {number} handle
   * @param {string} id
   * @param {string} kind
   * @param {string} source
   * @param {MediaStreamTrack} track
   */
  _onTrack(handle, id, kind, source, track) {
    const p = this.participants.get(id);
    if (!p || p.self) return;
    const early = this._earlyTrackStates.get(handle);
    this._earlyTrackStates.delete(handle);
    /** @type {RemoteTrack} */
    const t = { participant: id, kind, source, track, state: this.security.e2ee ? 'unknown' : 'off', reason: '' };
    if (early && this.security.e2ee) {
      t.state = early.state === 'ok' ? 'ok' : 'failing';
      t.reason = early.reason;
    }
    this._tracks.set(handle, t);
    this._render(p);
  }

  /**
   * @param {string} id
   * @param {MediaStreamTrack} track
   */
  _onTrackEnded(id, track) {
    for (const [h, t] of this._tracks) if (t.track === track) this._tracks.delete(h);
    const p = this.participants.get(id);
    if (p && !p.self) this._render(p);
  }

  /**
   * The E2EE worker's verdict on a track's frames.
   * @param {number} handle
   * @param {string} state
   * @param {string} reason
   */
  _onTrackState(handle, state, reason) {
    const t = this._tracks.get(handle);
    if (!t) {
      this._earlyTrackStates.set(handle, { state, reason });
      return;
    }
    t.state = state === 'ok' ? 'ok' : 'failing';
    t.reason = state === 'ok' ? '' : reason;
    const p = this.participants.get(t.participant);
    if (p) this._render(p);
  }

  /**
   * Sets what a participant's tiles show from their tracks' states: a
   * track is rendered only while it authenticates, and the worst problem
   * is what the tile says.
   * @param {Participant} p
   */
  _render(p) {
    /** @type {{audio: MediaStreamTrack|null, video: MediaStreamTrack|null, screen: MediaStreamTrack|null}} */
    const show = { audio: null, video: null, screen: null };
    const pending = { audio: false, video: false, screen: false };
    let failing = false;
    let ok = false;
    let problem = '';
    for (const t of this._tracks.values()) {
      if (t.participant !== p.id) continue;
      const slot = t.kind === 'audio' ? 'audio' : t.source === 'screen' ? 'screen' : 'video';
      if (t.state === 'ok' || t.state === 'off') {
        show[slot] = t.track;
        ok = true;
        continue;
      }
      pending[slot] = true;
      if (t.state === 'failing') {
        failing = true;
        problem = problem || t.reason || 'auth';
      }
    }
    /** @type {DecryptState} */
    const decrypt = !this.security.e2ee ? 'off' : failing ? 'failing' : ok ? 'ok' : 'unknown';
    const videoPending = pending.video && !show.video;
    const screenPending = pending.screen && !show.screen;
    if (p.audio === show.audio && p.video === show.video && p.screen === show.screen && p.decrypt === decrypt && p.problem === problem &&
      p.videoPending === videoPending && p.screenPending === screenPending) return;
    if (problem === 'replay' || problem === 'injected' || problem === 'invalid') {
      this._warn(problem === 'replay'
        ? 'The server replayed media a participant had sent before. It was refused.'
        : problem === 'injected'
          ? 'The server sent media frames of its own under a participant’s name. They were refused.'
          : 'The server sent a track that is not what it announced. It was refused.');
    }
    p.audio = show.audio;
    p.video = show.video;
    p.screen = show.screen;
    p.decrypt = decrypt;
    p.problem = problem;
    p.videoPending = videoPending;
    p.screenPending = screenPending;
    this.emit('update', p);
  }

  /** @param {string[]} ids loudest first */
  _onSpeakers(ids) {
    // The stage follows the loudest other person and stays with them
    // through pauses, so it does not flicker back and forth.
    const loudest = ids.find((id) => id !== this.selfId && this.participants.has(id));
    if (loudest && loudest !== this.activeSpeaker) {
      this.activeSpeaker = loudest;
      this.emit('active-speaker', { id: loudest });
    }
    const now = new Set(ids);
    for (const p of this.participants.values()) {
      const speaking = now.has(p.id);
      if (p.speaking !== speaking) {
        p.speaking = speaking;
        this.emit('update', p);
      }
    }
  }

  /**
   * @param {string} from
   * @param {string} data
   */
  async _onChat(from, data) {
    const { text, why } = await this.security.receiveChat(from, data);
    if (why === 'replay' || why === 'unknown-sender') {
      this._warn(why === 'replay'
        ? 'The server replayed a chat message. It was refused.'
        : 'The server relayed a chat message that does not belong to its sender’s current session. It was refused.');
      return;
    }
    const readable = why === '';
    const p = this.participants.get(from);
    const msg = { from, name: p ? p.name : '', text, self: false, readable, at: Date.now() };
    this._remember(msg);
  }

  /** @param {ChatMessage} msg */
  _remember(msg) {
    this.messages.push(msg);
    // A long call must not grow memory without bound.
    if (this.messages.length > 500) this.messages.splice(0, this.messages.length - 500);
    this.emit('chat', msg);
  }

  /**
   * Sends a chat message, sealed with the room key.
   * @param {string} text
   */
  async sendChat(text) {
    const t = text.trim().slice(0, 4000);
    if (!t || !this.session) return;
    this.session.sendChat(await this.security.sealChat(t));
    this._remember({ from: this.selfId, name: this.self.name, text: t, self: true, readable: true, at: Date.now() });
  }

  /**
   * Mutes or unmutes the microphone. Muting disables the track (silence is
   * sent, so unmuting is instant); the others are told through the server.
   * @param {boolean} on
   */
  async setMicrophone(on) {
    const p = this.self;
    if (on && !p.audio) {
      const c = await capture({ audio: true, video: false, audioId: this._audioId });
      if (!c.audio) {
        this.emit('notice', { text: c.problem || 'The microphone could not be opened.' });
        return;
      }
      p.audio = c.audio;
      await this._applyNoise();
    }
    if (p.audio) p.audio.enabled = on;
    p.audioMuted = !on;
    this._sendMute();
    this.emit('update', p);
  }

  /**
   * Starts or stops the camera. Stopping releases the device (its light goes
   * off) rather than sending black frames.
   * @param {boolean} on
   */
  async setCamera(on) {
    const p = this.self;
    if (on && !p.video) {
      const c = await capture({ audio: false, video: true, low: this._lowVideo, videoId: this._videoId });
      if (!c.video) {
        this.emit('notice', { text: c.problem || 'The camera could not be opened.' });
        return;
      }
      p.video = c.video;
      if (this.session) await this.session.replaceVideoTrack(c.video);
    } else if (!on && p.video) {
      const old = p.video;
      p.video = null;
      if (this.session) await this.session.replaceVideoTrack(null);
      old.stop();
    }
    p.videoMuted = !on;
    this._sendMute();
    this.emit('update', p);
  }

  /**
   * Switches to another camera or microphone without renegotiating: the
   * new track replaces the old one on the same sender.
   * @param {'audioinput'|'videoinput'} kind
   * @param {string} deviceId
   */
  async useDevice(kind, deviceId) {
    const p = this.self;
    if (kind === 'videoinput') {
      this._videoId = deviceId;
      if (!p.video) return;
      const c = await capture({ audio: false, video: true, low: this._lowVideo, videoId: deviceId });
      if (!c.video) {
        this.emit('notice', { text: c.problem || 'That camera could not be opened.' });
        return;
      }
      const old = p.video;
      p.video = c.video;
      if (this.session) await this.session.replaceVideoTrack(c.video);
      old.stop();
    } else {
      this._audioId = deviceId;
      if (!p.audio) return;
      const c = await capture({ audio: true, video: false, audioId: deviceId });
      if (!c.audio) {
        this.emit('notice', { text: c.problem || 'That microphone could not be opened.' });
        return;
      }
      const old = p.audio;
      c.audio.enabled = !p.audioMuted;
      p.audio = c.audio;
      await this._applyNoise();
      old.stop();
    }
    this.emit('update', p);
  }

  /**
   * Sends everyone's sound to another output (where setSinkId exists).
   * @param {string} sinkId
   */
  useSpeaker(sinkId) {
    this.speakerId = sinkId;
    this.emit('speaker', { sinkId });
  }

  /**
   * Turns noise suppression on or off.
   * @param {boolean} on
   */
  async setNoiseSuppression(on) {
    this.noise.on = on;
    await this._applyNoise();
    this.emit('update', this.self);
  }

  /**
   * Puts the microphone track through the noise suppressor (or the
   * browser's suppression as fallback, or neither) and sends the result.
   */
  async _applyNoise() {
    const raw = this.self.audio;
    /** @type {MediaStreamTrack|null} */
    let sent = raw;
    if (!raw) {
      this._suppressor.stop();
      this.noise.mode = 'off';
    } else if (this.noise.on) {
      const cleaned = await this._suppressor.start(raw);
      if (cleaned) {
        // One suppressor is enough; two in a row eat speech.
        await browserNoiseSuppression(raw, false);
        sent = cleaned;
        this.noise.mode = 'rnnoise';
      } else {
        await browserNoiseSuppression(raw, true);
        this.noise.mode = 'browser';
      }
    } else {
      this._suppressor.stop();
      await browserNoiseSuppression(raw, false);
      this.noise.mode = 'off';
    }
    this._sentAudio = sent;
    if (this.session) await this.session.replaceAudioTrack(sent);
  }

  /** Asks for a screen to share and sends it next to the camera. */
  async startScreenShare() {
    if (this.self.screen) return;
    let track;
    try {
      track = await captureScreen(this._lowVideo);
    } catch (err) {
      this.emit('notice', { text: err instanceof Error ? err.message : String(err) });
      return;
    }
    if (!track || this._ended) {
      if (track) track.stop();
      return;
    }
    this.self.screen = track;
    // The browser's own "Stop sharing" bar ends the track.
    track.addEventListener('ended', () => void this.stopScreenShare(), { once: true });
    this.emit('update', this.self);
    if (this.session) await this.session.startScreen(track);
  }

  /** Stops sharing the screen. */
  async stopScreenShare() {
    const t = this.self.screen;
    if (!t) return;
    this.self.screen = null;
    t.stop();
    this.emit('update', this.self);
    if (this.session) await this.session.stopScreen();
  }

  _sendMute() {
    if (this.session) this.session.setMute({ audioMuted: this.self.audioMuted, videoMuted: this.self.videoMuted });
  }

  /**
   * Tells the server how large a participant's camera or screen is shown,
   * so it can send a fitting layer (0×0 when hidden).
   * @param {string} id
   * @param {number} width
   * @param {number} height
   * @param {string} [source] "camera" (default) or "screen"
   */
  setRenderedSize(id, width, height, source = 'camera') {
    const r = this.session && this.session.remotes.get(id);
    if (!r || !this.session) return;
    for (const t of r.tracks.values()) {
      if (t.kind === 'video' && (t.source || 'camera') === source) this.session.sendLayer(t.id, width, height);
    }
  }

  /**
   * Receive statistics and decryption state per remote participant.
   * @returns {Promise<Record<string, {name: string, framesDecoded: number, framesReceived: number, audioPacketsReceived: number, videoPacketsReceived: number, screenFramesDecoded: number, hasScreen: boolean, quality: Quality, decryptState: DecryptState, nameUnreadable: boolean, video: object|null, audio: object|null}>>}
   */
  async stats() {
    /** @type {Record<string, any>} */
    const out = {};
    const st = this.session ? await this.session.stats() : new Map();
    for (const p of this.participants.values()) {
      if (p.self) continue;
      const s = st.get(p.id);
      out[p.id] = {
        name: p.name,
        framesDecoded: s ? s.framesDecoded : 0,
        framesReceived: s ? s.framesReceived : 0,
        audioPacketsReceived: s ? s.audioPacketsReceived : 0,
        videoPacketsReceived: s ? s.videoPacketsReceived : 0,
        screenFramesDecoded: s ? s.screenFramesDecoded : 0,
        hasScreen: !!p.screen,
        quality: p.quality,
        decryptState: p.decrypt,
        nameUnreadable: p.nameUnreadable,
        video: s ? { width: s.frameWidth, height: s.frameHeight, fps: s.framesPerSecond, freezes: s.freezeCount, freezeSeconds: s.freezeSeconds } : null,
        audio: s ? { concealed: s.concealedSamples, samples: s.totalSamples, lost: s.packetsLost, codec: s.audioCodec } : null,
      };
    }
    return out;
  }

  /** Leaves the call and releases camera and microphone. */
  leave() {
    if (this.session) this.session.leave();
    this._end('You left the meeting.', false);
  }

  /**
   * @param {string} reason
   * @param {boolean} error
   */
  _end(reason, error) {
    if (this._ended) return;
    this._ended = true;
    clearTimeout(this._retryTimer);
    clearTimeout(this._drainTimer);
    clearTimeout(this._iceTimer);
    clearTimeout(this._rejoinTimer);
    clearInterval(this._qualityTimer);
    window.removeEventListener('online', this._onOnline);
    clearInterval(this._profileTimer);
    this._suppressor.stop();
    if (this.self.audio) this.self.audio.stop();
    if (this.self.video) this.self.video.stop();
    if (this.self.screen) this.self.screen.stop();
    this.security.close();
    this.emit('ended', { reason, error });
  }
}
