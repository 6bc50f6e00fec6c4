// The call controller: joins a room with a Session, keeps the list of
// participants (names opened with the room key, media tracks, mute and
// decryption state) and the chat, and tells the UI what changed. No DOM
// access; the UI and the test hook read the same state.

import { Emitter } from './emitter.js';
import { Session } from './session.js';
import { joinToken } from './api.js';
import { capture } from './media.js';

/** @typedef {'ok'|'failing'|'unknown'|'off'} DecryptState */

/**
 * One person in the call, ourselves included.
 * @typedef {object} Participant
 * @property {string} id
 * @property {boolean} self
 * @property {string} name display name ('' while unknown or unreadable)
 * @property {boolean} nameUnreadable the sealed name could not be opened with our key
 * @property {DecryptState} decrypt whether this participant's media decrypts with our key
 * @property {boolean} audioMuted
 * @property {boolean} videoMuted
 * @property {MediaStreamTrack|null} audio
 * @property {MediaStreamTrack|null} video
 * @property {boolean} speaking
 */

/**
 * @typedef {object} ChatMessage
 * @property {string} from participant id
 * @property {string} name sender's display name at the time
 * @property {string} text '' when unreadable
 * @property {boolean} self
 * @property {boolean} readable false when it could not be decrypted
 * @property {number} at Date.now() on arrival
 */

/**
 * @typedef {object} CallEvents
 * @property {Participant} update a participant was added or changed
 * @property {{id: string}} remove a participant left
 * @property {ChatMessage} chat
 * @property {{text: string}} notice something the user should know, shown briefly
 * @property {{reason: string, error: boolean}} ended
 */

/**
 * @typedef {object} CallConfig
 * @property {string} code room code
 * @property {string} name our display name
 * @property {import('./secure.js').RoomSecurity} security
 * @property {MediaStreamTrack|null} audio microphone track (owned by the call from now on)
 * @property {MediaStreamTrack|null} video camera track (owned by the call from now on)
 * @property {boolean} [lowVideo] reopen the camera with small, slow video
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
    /** @type {Participant} */
    this.self = {
      id: '', self: true, name: cfg.name, nameUnreadable: false, decrypt: cfg.security.e2ee ? 'ok' : 'off',
      audioMuted: !cfg.audio, videoMuted: !cfg.video, audio: cfg.audio, video: cfg.video, speaking: false,
    };
    /** Decryption reports that arrived before the participant did. */
    /** @type {Map<string, DecryptState>} */
    this._earlyStates = new Map();
    /** Last sealed profile seen per participant, to open each only once. */
    /** @type {Map<string, string>} */
    this._profiles = new Map();
    this._ended = false;
    cfg.security.onDecryptState((id, state) => this._onDecryptState(id, state));
  }

  /** Gets a token, connects and starts sending media. */
  async join() {
    const sec = this.security;
    const tok = await joinToken(this.code, sec.e2ee);
    const profile = await sec.sealer.seal(JSON.stringify({ name: this._name }));
    const s = new Session({ wsUrl: tok.ws, token: tok.token, iceServers: tok.iceServers, profile, transforms: sec.transforms });
    this.session = s;
    s.on('participant-joined', (r) => this._onRemote(r));
    s.on('participant-updated', (r) => this._onRemote(r));
    s.on('participant-left', ({ id }) => this._onLeft(id));
    s.on('track', (t) => this._onTrack(t.participant, t.kind, t.track));
    s.on('track-ended', (t) => this._onTrackEnded(t.participant, t.kind, t.track));
    s.on('chat', (m) => void this._onChat(m.from, m.data));
    s.on('speakers', ({ ids }) => this._onSpeakers(ids));
    s.on('error', (e) => this.emit('notice', { text: e.message }));
    s.on('drain', (d) => this.emit('notice', { text: d.message || 'The server is restarting; the call will end shortly.' }));
    s.on('redirect', ({ url }) => this._end('This meeting moved to another server: ' + url, true));
    s.on('closed', ({ reason }) => this._end(reason || 'The call ended.', !!reason));
    s.on('connection', ({ pc, state }) => {
      if (state === 'failed') this.emit('notice', { text: 'The ' + (pc === 'pub' ? 'sending' : 'receiving') + ' media connection failed. Check your network.' });
    });
    const tracks = /** @type {MediaStreamTrack[]} */ ([this.self.audio, this.self.video].filter(Boolean));
    const welcome = await s.join({ stream: new MediaStream(tracks), audio: this.self.audio, video: this.self.video });
    if (welcome.e2ee !== sec.e2ee) {
      s.leave();
      throw new Error(welcome.e2ee
        ? 'This meeting is end-to-end encrypted, but this link has no key. Ask for the full invite link.'
        : 'This meeting was created without end-to-end encryption. Open it with the link that ends in "?e2ee=off".');
    }
    this.selfId = welcome.id;
    this.self.id = welcome.id;
    this.participants.set(welcome.id, this.self);
    this.emit('update', this.self);
    s.setMute({ audioMuted: this.self.audioMuted, videoMuted: this.self.videoMuted });
  }

  /**
   * @param {import('./session.js').Remote} r
   */
  async _onRemote(r) {
    let p = this.participants.get(r.id);
    if (!p) {
      p = {
        id: r.id, self: false, name: '', nameUnreadable: false, decrypt: this.security.e2ee ? this._earlyStates.get(r.id) || 'unknown' : 'off',
        audioMuted: r.audioMuted, videoMuted: r.videoMuted, audio: null, video: null, speaking: false,
      };
      this._earlyStates.delete(r.id);
      this.participants.set(r.id, p);
    }
    p.audioMuted = r.audioMuted;
    p.videoMuted = r.videoMuted;
    this.emit('update', p);
    if (r.profile && r.profile !== this._profiles.get(r.id)) {
      this._profiles.set(r.id, r.profile);
      const name = await this._openName(r.profile);
      if (this.participants.get(r.id) !== p) return;
      p.name = name === null ? '' : name;
      p.nameUnreadable = name === null;
      this.emit('update', p);
    }
  }

  /**
   * @param {string} sealed
   * @returns {Promise<string|null>} null when it cannot be opened
   */
  async _openName(sealed) {
    try {
      const v = JSON.parse(await this.security.sealer.open(sealed));
      return v && typeof v.name === 'string' ? v.name.slice(0, 64) : '';
    } catch {
      return null;
    }
  }

  /** @param {string} id */
  _onLeft(id) {
    const p = this.participants.get(id);
    if (!p || p.self) return;
    this.participants.delete(id);
    this._profiles.delete(id);
    this.emit('remove', { id });
  }

  /**
   * @param {string} id
   * @param {string} kind
   * @param {MediaStreamTrack} track
   */
  _onTrack(id, kind, track) {
    const p = this.participants.get(id);
    if (!p || p.self) return;
    if (kind === 'audio') p.audio = track;
    else p.video = track;
    this.emit('update', p);
  }

  /**
   * @param {string} id
   * @param {string} kind
   * @param {MediaStreamTrack} track
   */
  _onTrackEnded(id, kind, track) {
    const p = this.participants.get(id);
    if (!p || p.self) return;
    if (kind === 'audio' && p.audio === track) p.audio = null;
    else if (kind === 'video' && p.video === track) p.video = null;
    else return;
    this.emit('update', p);
  }

  /**
   * @param {string} id
   * @param {string} state
   */
  _onDecryptState(id, state) {
    /** @type {DecryptState} */
    const s = state === 'ok' ? 'ok' : 'failing';
    const p = this.participants.get(id);
    if (!p) {
      this._earlyStates.set(id, s);
      return;
    }
    if (p.self || p.decrypt === s) return;
    p.decrypt = s;
    this.emit('update', p);
  }

  /** @param {string[]} ids */
  _onSpeakers(ids) {
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
    let text = '';
    let readable = true;
    try {
      const v = JSON.parse(await this.security.sealer.open(data));
      text = v && typeof v.text === 'string' ? v.text : '';
    } catch {
      readable = false;
    }
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
    this.session.sendChat(await this.security.sealer.seal(JSON.stringify({ text: t })));
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
      const c = await capture({ audio: true, video: false });
      if (!c.audio) {
        this.emit('notice', { text: c.problem || 'The microphone could not be opened.' });
        return;
      }
      p.audio = c.audio;
      if (this.session) await this.session.replaceAudioTrack(c.audio);
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
      const c = await capture({ audio: false, video: true, low: this._lowVideo });
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

  _sendMute() {
    if (this.session) this.session.setMute({ audioMuted: this.self.audioMuted, videoMuted: this.self.videoMuted });
  }

  /**
   * Tells the server how large a participant's video is shown, so it can
   * send a fitting layer (0×0 when hidden).
   * @param {string} id
   * @param {number} width
   * @param {number} height
   */
  setRenderedSize(id, width, height) {
    const r = this.session && this.session.remotes.get(id);
    if (!r || !this.session) return;
    for (const t of r.tracks.values()) {
      if (t.kind === 'video') this.session.sendLayer(t.id, width, height);
    }
  }

  /**
   * Receive statistics and decryption state per remote participant.
   * @returns {Promise<Record<string, {name: string, framesDecoded: number, framesReceived: number, audioPacketsReceived: number, videoPacketsReceived: number, decryptState: DecryptState, nameUnreadable: boolean}>>}
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
        decryptState: p.decrypt,
        nameUnreadable: p.nameUnreadable,
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
    if (this.self.audio) this.self.audio.stop();
    if (this.self.video) this.self.video.stop();
    this.security.close();
    this.emit('ended', { reason, error });
  }
}
