// The signaling protocol and the two peer connections of one participant
// (docs/protocol.md, signaling/messages.go). No DOM access: the UI listens to
// events and calls methods, so this module can be read and tested alone.
//
// Each participant has two RTCPeerConnections with one offerer each, so the
// sides never race to renegotiate: "pub" (this client offers what it sends)
// and "sub" (the server offers what this client receives, again whenever the
// room's set of tracks changes). Incoming tracks carry the publisher's
// participant id as their stream id.
//
// End-to-end encryption plugs in at one place: the MediaTransforms passed in
// the config, applied to every sender and receiver of both connections.

import { Emitter } from './emitter.js';
import { announced, cameraEncodings, captureConstraints, tierFor, SCREEN } from './ladder.js';

export const PROTOCOL_VERSION = 1;

/**
 * Participant ids the client accepts from the server: what the E2EE
 * library can name (docs/e2ee.md §3). Anything else the server announces
 * is refused before use.
 */
export const PARTICIPANT_ID = /^[A-Za-z0-9_-]{1,64}$/;

/** @param {unknown} id */
export function validId(id) {
  return typeof id === 'string' && PARTICIPANT_ID.test(id);
}

/** Track sources, and the kind of media each one is. */
export const SOURCE_KIND = /** @type {Record<string, string>} */ ({ microphone: 'audio', camera: 'video', screen: 'video' });

/** Redirects to another node followed per join (multi-node mode). */
export const MAX_REDIRECTS = 3;

/**
 * @typedef {object} TrackInfo
 * @property {string} id
 * @property {string} participant publisher's participant id
 * @property {string} kind "audio" or "video"
 * @property {string} source "microphone", "camera" or "screen"
 * @property {boolean} [simulcast]
 */

/**
 * @typedef {object} ParticipantInfo
 * @property {string} id
 * @property {string} [profile] sealed display name, opaque to the server
 * @property {boolean} audioMuted
 * @property {boolean} videoMuted
 * @property {boolean} [handRaised]
 * @property {TrackInfo[]} [tracks]
 */

/**
 * The meeting's host state (docs/protocol.md, "Host controls").
 * @typedef {object} MeetingState
 * @property {string[]} hosts participant ids of the hosts
 * @property {boolean} locked nobody new may join
 * @property {boolean} lobby newcomers wait until a host lets them in
 */

/**
 * Someone waiting in the lobby, as hosts see them.
 * @typedef {object} LobbyEntry
 * @property {string} id
 * @property {string} [profile] sealed display name
 */

/**
 * @typedef {object} ICEServer
 * @property {string[]} urls
 * @property {string} [username]
 * @property {string} [credential]
 */

/**
 * @typedef {object} Welcome
 * @property {string} id this participant's id
 * @property {boolean} e2ee whether the room is end-to-end encrypted
 * @property {ParticipantInfo[]} participants the others already in the room
 * @property {ICEServer[]} [iceServers]
 * @property {string} [rejoin] ticket to come back with after a lost connection
 * @property {MeetingState} [meeting] host state as we joined
 * @property {LobbyEntry[]} [lobby] who waits to be let in (hosts only)
 */

/**
 * Where end-to-end encryption plugs in. Every sender and receiver of both
 * connections is passed through. A receiver is attached first thing,
 * whatever the server announced, then bound to the publisher and source
 * it carries; one that cannot be attached or bound is never shown.
 * @typedef {object} MediaTransforms
 * @property {() => RTCConfiguration} peerConnectionConfig extra settings both connections are created with
 * @property {(sender: RTCRtpSender, o: {source: string, kind: string}) => void} attachSender
 * @property {(receiver: RTCRtpReceiver, o: {kind: string}) => number} attachReceiver
 * @property {(handle: number, b: {senderId: string, source: string}|null) => boolean} bindReceiver
 */

/**
 * @typedef {object} SessionConfig
 * @property {string} wsUrl absolute ws:// or wss:// URL of the signaling endpoint
 * @property {string} token the join token from /api/token
 * @property {ICEServer[]} [iceServers] from /api/token; the welcome's list wins if present
 * @property {string} [profile] sealed display name
 * @property {{id: string, ticket: string}|null} [rejoin] our id and ticket before the connection dropped
 * @property {MediaTransforms|null} [transforms]
 * @property {number} [joinTimeoutMs] how long to wait for welcome (default 15 s)
 */

/**
 * @typedef {object} LocalMedia
 * @property {MediaStream} stream the stream the tracks are sent in
 * @property {MediaStreamTrack|null} audio
 * @property {MediaStreamTrack|null} video
 * @property {boolean} [simulcast] send the camera as three layers (ladder.js)
 * @property {boolean} [fixedCapture] keep the camera's size whatever the room's (small, slow video)
 */

/** How long a layer the server no longer needs keeps going (see _setActiveLayers). */
export const LAYER_PAUSE_DELAY_MS = 2000;

/**
 * What the session knows of another participant.
 * @typedef {object} Remote
 * @property {string} id
 * @property {string} profile sealed display name ('' if none)
 * @property {boolean} audioMuted
 * @property {boolean} videoMuted
 * @property {boolean} handRaised
 * @property {Map<string, TrackInfo>} tracks published tracks by id
 */

/**
 * Receive statistics of one remote participant, summed over its tracks.
 * @typedef {object} RemoteStats
 * @property {number} framesDecoded
 * @property {number} framesReceived
 * @property {number} videoPacketsReceived
 * @property {number} audioPacketsReceived
 * @property {number} audioBytesReceived
 * @property {number} frameWidth
 * @property {number} frameHeight
 * @property {number} screenFramesDecoded frames decoded of the shared screen
 * @property {number} packetsLost video and audio, cumulative
 * @property {number} jitter audio jitter, seconds
 * @property {number} framesPerSecond camera video, as the browser measures it
 * @property {number} freezeCount camera video freezes, cumulative
 * @property {number} freezeSeconds camera video time frozen, cumulative
 * @property {number} concealedSamples audio samples the decoder had to invent (loss), cumulative
 * @property {number} totalSamples audio samples played out, cumulative
 * @property {string} audioCodec what the browser decodes the audio with, e.g. "audio/opus" (Chromium names Opus for Opus RED too; '' before any)
 */

/**
 * @typedef {object} SessionEvents
 * @property {Welcome} welcome
 * @property {Remote} participant-joined
 * @property {Remote} participant-updated
 * @property {{id: string}} participant-left
 * @property {{participant: string, kind: string, source: string, track: MediaStreamTrack, receiver: RTCRtpReceiver, handle: number}} track
 * @property {{what: string}} refused something the server announced was invalid and is ignored
 * @property {{handle: number, source: string}} track-source a track's source was announced after the track arrived
 * @property {{participant: string, kind: string, source: string, track: MediaStreamTrack}} track-ended
 * @property {{mid: string, active: string[]}} layers
 * @property {{from: string, data: string}} chat
 * @property {{ids: string[]}} speakers
 * @property {{pc: string, state: RTCPeerConnectionState}} connection
 * @property {{code: string, message: string, fatal: boolean}} error
 * @property {{message: string, deadline: number}} drain
 * @property {{url: string}} redirect
 * @property {{reason: string}} closed
 * @property {{}} waiting we wait in the lobby for a host to let us in
 * @property {MeetingState} meeting the host state changed
 * @property {{waiting: LobbyEntry[]}} lobby who waits changed (hosts only)
 * @property {{id: string, by: string}} removed a host removed a participant
 * @property {{from: string}} mute-request a host asks us to mute
 */

/** Error raised when joining fails; code is a signaling error code or a local one. */
export class JoinError extends Error {
  /**
   * @param {string} code
   * @param {string} message
   */
  constructor(code, message) {
    super(message);
    this.name = 'JoinError';
    this.code = code;
  }
}

/** @extends {Emitter<SessionEvents>} */
export class Session extends Emitter {
  /** @param {SessionConfig} cfg */
  constructor(cfg) {
    super();
    if (!cfg.wsUrl || !/^wss?:\/\//.test(cfg.wsUrl)) throw new TypeError('session: wsUrl must be a ws:// or wss:// URL');
    if (!cfg.token) throw new TypeError('session: token is required');
    this._cfg = cfg;
    /** @type {WebSocket|null} */
    this._ws = null;
    this.id = '';
    this.e2ee = false;
    /** @type {Map<string, Remote>} */
    this.remotes = new Map();
    /** @type {RTCPeerConnection|null} */
    this._pub = null;
    /** @type {RTCPeerConnection|null} */
    this._sub = null;
    /** Negotiation steps per connection run one at a time, in arrival order. */
    this._queue = { pub: Promise.resolve(), sub: Promise.resolve() };
    /** @type {Map<RTCRtpReceiver, {participant: string, kind: string, source: string, handle: number, trackId: string}>} */
    this._receivers = new Map();
    /** The last handle given to a track without a transform (negative, so
     * it never meets a transform's handle). */
    this._plainHandle = 0;
    /** @type {{audio: RTCRtpSender|null, video: RTCRtpSender|null}} */
    this._senders = { audio: null, video: null };
    /**
     * What each sending transceiver carries, by mid, as told to the server
     * in every pub offer; a mid left out stops that track.
     * @type {Map<RTCRtpTransceiver, string>}
     */
    this._sources = new Map();
    /** @type {RTCRtpTransceiver|null} the screen share's, while sharing */
    this._screen = null;
    /** @type {Map<string, string[]>} last active rids the server asked for, by mid */
    this.layersAsked = new Map();
    /** pub offers sent: switching devices must not add any. */
    this.pubOffers = 0;
    this._closed = false;
    /** @type {ReturnType<typeof setInterval>|undefined} */
    this._pinger = undefined;
    /** People in the room (us included) the camera is sized for (ladder.js). */
    this._roomSize = 1;
    this._fixedCapture = false;
  }

  /**
   * Connects, joins the room and starts publishing media. Resolves with the
   * welcome once the server accepted the join; media connects afterwards.
   * @param {LocalMedia} media
   * @returns {Promise<Welcome>}
   */
  async join(media) {
    const welcome = await this._connectFollowing();
    if (!validId(welcome.id)) {
      this._shutdown('');
      throw new JoinError('bad-welcome', 'The server gave this browser an invalid participant id.');
    }
    welcome.participants = (welcome.participants || []).filter((p) => this._valid(p && p.id, 'participant id'));
    this.id = welcome.id;
    this.e2ee = welcome.e2ee;
    const iceServers = welcome.iceServers && welcome.iceServers.length ? welcome.iceServers : this._cfg.iceServers || [];
    this._sub = this._newPC('sub', iceServers);
    this._pub = this._newPC('pub', iceServers);
    for (const p of welcome.participants || []) this._upsert(p);
    this.emit('welcome', welcome);
    for (const r of this.remotes.values()) this.emit('participant-joined', r);
    this._publish(media);
    this._pinger = setInterval(() => this._send({ type: 'ping', t: Date.now() }), 20000);
    return welcome;
  }

  /**
   * Connects and joins, following redirects to the node that hosts the room
   * (several nodes, docs/scaling.md) with the same token, which every node
   * accepts. Bounded, so two nodes that disagree cannot bounce us forever.
   * @returns {Promise<Welcome>}
   */
  async _connectFollowing() {
    for (let hops = 0; ; hops++) {
      try {
        return await this._connect();
      } catch (err) {
        if (!(err instanceof JoinError) || err.code !== 'redirect' || hops >= MAX_REDIRECTS) throw err;
      }
    }
  }

  /** @returns {Promise<Welcome>} */
  _connect() {
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(this._cfg.wsUrl);
      this._ws = ws;
      let joined = false;
      let timer = setTimeout(() => {
        fail(new JoinError('timeout', 'The server did not answer in time. Check your connection and try again.'));
      }, this._cfg.joinTimeoutMs || 15000);
      /** @param {JoinError} err */
      const fail = (err) => {
        clearTimeout(timer);
        if (joined) return;
        joined = true;
        ws.close();
        reject(err);
      };
      const sendJoin = () => {
        const r = this._cfg.rejoin;
        this._send({
          type: 'join', v: PROTOCOL_VERSION, token: this._cfg.token, profile: this._cfg.profile || undefined,
          rejoinId: r ? r.id : undefined, rejoinTicket: r ? r.ticket : undefined,
        });
      };
      ws.onopen = sendJoin;
      ws.onerror = () => fail(new JoinError('network', 'Could not reach the meeting server.'));
      ws.onclose = (ev) => {
        if (!joined) fail(new JoinError('closed', 'The server closed the connection' + (ev.reason ? ': ' + ev.reason : '.')));
        else this._shutdown(ev.reason || 'The connection to the server was lost.');
      };
      ws.onmessage = (ev) => {
        /** @type {any} */
        let msg;
        try {
          msg = JSON.parse(typeof ev.data === 'string' ? ev.data : '');
        } catch {
          return;
        }
        if (!joined) {
          if (msg.type === 'welcome') {
            joined = true;
            clearTimeout(timer);
            resolve(/** @type {Welcome} */ (msg));
          } else if (msg.type === 'waiting') {
            // In the lobby: no time-out while a host decides.
            clearTimeout(timer);
            this.emit('waiting', {});
          } else if (msg.type === 'admitted') {
            // Let in: the join again on this connection brings the welcome.
            timer = setTimeout(() => fail(new JoinError('timeout', 'The server did not answer in time. Check your connection and try again.')), this._cfg.joinTimeoutMs || 15000);
            sendJoin();
          } else if (msg.type === 'error') {
            fail(new JoinError(String(msg.code), String(msg.message)));
          } else if (msg.type === 'redirect' && /^wss?:\/\//.test(String(msg.url))) {
            // Not a lost connection: this socket's close must not end the session.
            ws.onclose = null;
            ws.onerror = null;
            this._cfg = { ...this._cfg, wsUrl: String(msg.url) };
            fail(new JoinError('redirect', 'The meeting servers kept sending us elsewhere; try again in a moment.'));
          }
          return;
        }
        this._dispatch(msg);
      };
    });
  }

  /**
   * @param {string} name
   * @param {ICEServer[]} iceServers
   * @returns {RTCPeerConnection}
   */
  _newPC(name, iceServers) {
    const extra = this._cfg.transforms ? this._cfg.transforms.peerConnectionConfig() : {};
    const pc = new RTCPeerConnection({ ...extra, iceServers, bundlePolicy: 'max-bundle', rtcpMuxPolicy: 'require' });
    pc.onicecandidate = (ev) => {
      this._send({ type: 'candidate', pc: name, candidate: ev.candidate ? ev.candidate.toJSON() : null });
    };
    pc.onconnectionstatechange = () => this.emit('connection', { pc: name, state: pc.connectionState });
    if (name === 'sub') pc.ontrack = (ev) => this._onTrack(ev);
    return pc;
  }

  /** @param {LocalMedia} media */
  _publish(media) {
    const pc = /** @type {RTCPeerConnection} */ (this._pub);
    const t = this._cfg.transforms;
    // Both transceivers exist even without a track, so a camera started
    // later is a replaceTrack and not a renegotiation.
    const audio = pc.addTransceiver(media.audio || 'audio', { direction: 'sendonly', streams: [media.stream] });
    preferRED(audio);
    /** @type {RTCRtpTransceiverInit} */
    const videoInit = { direction: 'sendonly', streams: [media.stream] };
    this._fixedCapture = !!media.fixedCapture;
    this._roomSize = this.remotes.size + 1;
    if (media.simulcast) videoInit.sendEncodings = cameraEncodings(tierFor(this._roomSize));
    const video = pc.addTransceiver(media.video || 'video', videoInit);
    this._senders = { audio: audio.sender, video: video.sender };
    this._sources.set(audio, 'microphone');
    this._sources.set(video, 'camera');
    if (t) {
      t.attachSender(audio.sender, { source: 'microphone', kind: 'audio' });
      t.attachSender(video.sender, { source: 'camera', kind: 'video' });
    }
    this._offerPub();
  }

  /** Sends a pub offer listing every transceiver that carries a track. */
  _offerPub() {
    const pc = /** @type {RTCPeerConnection} */ (this._pub);
    this.pubOffers++;
    this._enqueue('pub', async () => {
      await pc.setLocalDescription(await pc.createOffer());
      const tracks = [];
      for (const [tr, source] of this._sources) if (tr.mid) tracks.push({ mid: tr.mid, source });
      this._send({ type: 'offer', pc: 'pub', sdp: pc.localDescription ? pc.localDescription.sdp : '', tracks });
    });
  }

  /**
   * Starts sending a shared screen as a second video track (source
   * "screen"), encrypted like the camera. Each share gets a fresh
   * transceiver: the server knows a track by its mid, and a mid it was told
   * had stopped does not come back.
   * @param {MediaStreamTrack} track
   */
  async startScreen(track) {
    const pc = this._pub;
    if (!pc || this._closed) throw new Error('session: not joined');
    if (this._screen) {
      await this._screen.sender.replaceTrack(track);
      return;
    }
    // Full resolution, few frames: text stays sharp and the rate low.
    const tr = pc.addTransceiver(track, {
      direction: 'sendonly', streams: [new MediaStream([track])],
      sendEncodings: [{ maxBitrate: SCREEN.maxBitrate, maxFramerate: SCREEN.frameRate }],
    });
    if (this._cfg.transforms) this._cfg.transforms.attachSender(tr.sender, { source: 'screen', kind: 'video' });
    this._screen = tr;
    this._sources.set(tr, 'screen');
    this._offerPub();
  }

  /** Stops sending the shared screen; the others' layouts go back. */
  async stopScreen() {
    const tr = this._screen;
    if (!tr) return;
    this._screen = null;
    this._sources.delete(tr);
    await tr.sender.replaceTrack(null).catch(() => {});
    tr.direction = 'inactive';
    this._offerPub();
  }

  /**
   * Restarts ICE on both connections: our publisher offer gets new
   * credentials, and the server sends a subscriber offer with new ones.
   */
  restartIce() {
    if (this._closed || !this._pub) return;
    this._pub.restartIce();
    this._offerPub();
    this._send({ type: 'restart-ice' });
  }

  /**
   * Tells the server the layers each sending transceiver produces (size
   * and target rate), so it can choose a subscriber's layer before it has
   * measured it. Sent after each pub negotiation and capture change.
   */
  _announceEncodings() {
    const pc = this._pub;
    if (!pc || this._closed) return;
    for (const tr of this._sources.keys()) {
      const track = tr.sender.track;
      if (!tr.mid || !track || track.kind !== 'video') continue;
      const s = track.getSettings();
      if (!s.width || !s.height) continue;
      const layers = announced(tr.sender.getParameters().encodings || [], s.width, s.height);
      this._send({ type: 'encodings', mid: tr.mid, layers });
    }
  }

  /**
   * Sizes the camera for a room of people (us included): capture size and
   * layer rates from ladder.js, then tells the server. Small, slow video
   * (?video=low) stays as it is.
   * @param {number} people
   */
  async setRoomSize(people) {
    const before = tierFor(this._roomSize);
    this._roomSize = people;
    const tier = tierFor(people);
    if (tier === before || this._fixedCapture) return;
    this._enqueue('pub', () => this._fitCamera());
  }

  /** Applies the room's tier to the camera track and its encodings. */
  async _fitCamera() {
    const sender = this._senders.video;
    if (!sender || this._closed || this._fixedCapture) return;
    const tier = tierFor(this._roomSize);
    const track = sender.track;
    if (track) await track.applyConstraints(captureConstraints(tier)).catch(() => {});
    const params = sender.getParameters();
    if (params.encodings && params.encodings.length > 1) {
      const want = cameraEncodings(tier);
      for (const e of params.encodings) {
        const w = want.find((x) => x.rid === e.rid);
        if (w) e.maxBitrate = w.maxBitrate;
      }
      await sender.setParameters(params).catch(() => {});
    }
    this._announceEncodings();
  }

  /**
   * The encodings of the camera sender as the browser reports them, for
   * tests and the stats panel.
   * @returns {{rid: string, active: boolean}[]}
   */
  cameraEncodings() {
    const s = this._senders.video;
    if (!s) return [];
    return (s.getParameters().encodings || []).map((e) => ({ rid: e.rid || '', active: e.active !== false }));
  }

  /**
   * Follows the server's "layers": the simulcast layers no subscriber needs
   * are paused, so the browser stops encoding them (less CPU and upload).
   * A newly wanted layer starts at once; an unwanted one is paused only
   * LAYER_PAUSE_DELAY_MS later, because the server switches a subscriber
   * to the new layer on that layer's next key frame and until then still
   * forwards the old one.
   * @param {string} mid
   * @param {string[]} active
   */
  async _setActiveLayers(mid, active) {
    const want = new Set(active);
    const later = await this._updateEncodings(mid, (rid, on) => on || want.has(rid));
    if (later) {
      setTimeout(() => this._enqueue('pub', async () => {
        const now = new Set(this.layersAsked.get(mid) || []);
        await this._updateEncodings(mid, (rid) => now.has(rid));
      }), LAYER_PAUSE_DELAY_MS);
    }
  }

  /**
   * Sets encodings[i].active = decide(rid, active) on the sender of mid.
   * Returns whether some encoding stays active that the server no longer
   * lists (a pause to apply later).
   * @param {string} mid
   * @param {(rid: string, active: boolean) => boolean} decide
   * @returns {Promise<boolean>}
   */
  async _updateEncodings(mid, decide) {
    const pc = this._pub;
    if (!pc || this._closed) return false;
    const tr = pc.getTransceivers().find((x) => x.mid === mid);
    if (!tr) return false;
    const params = tr.sender.getParameters();
    if (!params.encodings || params.encodings.length < 2) return false;
    const asked = new Set(this.layersAsked.get(mid) || []);
    let changed = false;
    let pending = false;
    for (const e of params.encodings) {
      const rid = e.rid || '';
      const on = decide(rid, e.active !== false);
      if ((e.active !== false) !== on) {
        e.active = on;
        changed = true;
      }
      if (on && !asked.has(rid)) pending = true;
    }
    if (changed) await tr.sender.setParameters(params);
    return pending;
  }

  /**
   * Reports and refuses something invalid the server announced.
   * @param {unknown} id
   * @param {string} what
   * @returns {boolean} whether id is valid
   */
  _valid(id, what) {
    if (validId(id)) return true;
    this.emit('refused', { what });
    return false;
  }

  /**
   * A receiver appeared. It is put behind the decrypt transform before
   * anything else, so no frame reaches a decoder unchecked; then it is
   * bound to the publisher and source the server announced. A track whose
   * receiver cannot be protected, or whose publisher or source is invalid,
   * stays bound to nothing (its frames are dropped) and is not shown.
   * @param {RTCTrackEvent} ev
   */
  _onTrack(ev) {
    const track = ev.track;
    const t = this._cfg.transforms;
    // Each track needs a handle of its own even without a transform (a
    // room without E2EE): with 0 for all, the page kept one track per
    // participant and lost the other, video or audio by arrival order.
    let handle = --this._plainHandle;
    if (t) {
      try {
        handle = t.attachReceiver(ev.receiver, { kind: track.kind });
      } catch (err) {
        console.error('meet: cannot protect a received track, refusing it:', err);
        this.emit('refused', { what: 'track that cannot be decrypted here' });
        return;
      }
    }
    const trackId = this._signaledTrackId(ev.transceiver, track);
    const participant = ev.streams.length > 0 ? ev.streams[0].id : this._publisherOf(trackId);
    const source = this._sourceOf(participant, trackId, track.kind);
    const valid = this._valid(participant, 'track publisher') && SOURCE_KIND[source] === track.kind;
    if (t && !t.bindReceiver(handle, valid ? { senderId: participant, source } : null)) {
      if (valid) this.emit('refused', { what: 'track' });
      return;
    }
    if (!valid) {
      this.emit('refused', { what: 'track source' });
      return;
    }
    this._receivers.set(ev.receiver, { participant, kind: track.kind, source, handle, trackId });
    const ended = () => {
      const cur = this._receivers.get(ev.receiver);
      if (cur && cur.participant === participant) this._receivers.delete(ev.receiver);
      this.emit('track-ended', { participant, kind: track.kind, source, track });
    };
    track.addEventListener('ended', ended, { once: true });
    if (ev.streams[0]) {
      const stream = ev.streams[0];
      /** @param {MediaStreamTrackEvent} e */
      const removed = (e) => {
        if (e.track !== track) return;
        stream.removeEventListener('removetrack', removed);
        ended();
      };
      stream.addEventListener('removetrack', removed);
    }
    this.emit('track', { participant, kind: track.kind, source, track, receiver: ev.receiver, handle });
  }

  /**
   * The track id the server gave a received track in the sub offer's
   * "a=msid" line. Chromium uses it as MediaStreamTrack.id; Firefox makes
   * up its own id, so it is read from the SDP by the transceiver's mid.
   * @param {RTCRtpTransceiver|undefined} tr
   * @param {MediaStreamTrack} track
   * @returns {string}
   */
  _signaledTrackId(tr, track) {
    const sdp = this._sub && this._sub.remoteDescription ? this._sub.remoteDescription.sdp : '';
    if (!tr || !tr.mid || !sdp) return track.id;
    for (const section of sdp.split(/\r?\nm=/).slice(1)) {
      if (!section.split(/\r?\n/).includes('a=mid:' + tr.mid)) continue;
      const m = /\r?\na=msid:\S+ (\S+)/.exec(section);
      return m ? m[1] : track.id;
    }
    return track.id;
  }

  /**
   * The source of an incoming track. The server names a track
   * "<participant>-<mid>" and announces it (track-published) before the
   * offer that carries it, so the id finds it. Until it is announced, the
   * kind decides; a later announcement re-binds the receiver.
   * @param {string} participant
   * @param {string} trackId as signaled (_signaledTrackId)
   * @param {string} kind
   * @returns {string}
   */
  _sourceOf(participant, trackId, kind) {
    const r = this.remotes.get(participant);
    const info = r && r.tracks.get(trackId);
    if (info && info.source) return String(info.source);
    return kind === 'audio' ? 'microphone' : 'camera';
  }

  /**
   * Finds a publisher by track id, for browsers that leave out the stream.
   * @param {string} trackId
   * @returns {string}
   */
  _publisherOf(trackId) {
    for (const r of this.remotes.values()) if (r.tracks.has(trackId)) return r.id;
    return '';
  }

  /**
   * @param {'pub'|'sub'} name
   * @param {() => Promise<void>} step
   */
  _enqueue(name, step) {
    this._queue[name] = this._queue[name].then(step).catch((err) => {
      if (this._closed) return;
      console.error('meet: negotiation on', name, 'failed:', err);
      this.emit('error', { code: 'negotiation', message: 'Setting up media failed: ' + String(err && err.message), fatal: false });
    });
  }

  /**
   * Runs the handler of a server message; unknown types are ignored so an
   * older client keeps working with a newer server.
   * @param {any} msg
   */
  _dispatch(msg) {
    const handler = HANDLERS[String(msg && msg.type)];
    if (handler) handler.call(this, msg);
  }

  /**
   * Adds or updates a remote from the server's description.
   * @param {ParticipantInfo} p
   * @returns {Remote}
   */
  _upsert(p) {
    let r = this.remotes.get(p.id);
    if (!r) {
      r = { id: p.id, profile: '', audioMuted: false, videoMuted: false, handRaised: false, tracks: new Map() };
      this.remotes.set(p.id, r);
    }
    r.profile = p.profile || r.profile;
    r.audioMuted = !!p.audioMuted;
    r.videoMuted = !!p.videoMuted;
    r.handRaised = !!p.handRaised;
    for (const t of p.tracks || []) r.tracks.set(t.id, t);
    return r;
  }

  /**
   * @param {'pub'|'sub'} name
   * @param {RTCIceCandidateInit|null} cand
   */
  _addCandidate(name, cand) {
    const pc = name === 'pub' ? this._pub : this._sub;
    if (!pc) return;
    // Queued behind the descriptions, so a candidate never arrives before
    // the remote description it belongs to.
    this._enqueue(name, async () => {
      try {
        await pc.addIceCandidate(cand || undefined);
      } catch (err) {
        // A stale candidate of an old generation is harmless.
        console.warn('meet: candidate on', name, 'ignored:', err);
      }
    });
  }

  /** @param {Record<string, unknown>} msg */
  _send(msg) {
    if (this._ws && this._ws.readyState === WebSocket.OPEN) this._ws.send(JSON.stringify(msg));
  }

  /**
   * Starts, stops or swaps the camera track without renegotiating.
   * @param {MediaStreamTrack|null} track
   */
  async replaceVideoTrack(track) {
    if (!this._senders.video) return;
    await this._senders.video.replaceTrack(track);
    if (track) this._enqueue('pub', () => this._fitCamera());
  }

  /**
   * Swaps the microphone track without renegotiating.
   * @param {MediaStreamTrack|null} track
   */
  async replaceAudioTrack(track) {
    if (this._senders.audio) await this._senders.audio.replaceTrack(track);
  }

  /**
   * Tells the others this participant's mute state.
   * @param {{audioMuted: boolean, videoMuted: boolean}} m
   */
  setMute(m) {
    this._send({ type: 'mute', audioMuted: m.audioMuted, videoMuted: m.videoMuted });
  }

  /** @param {string} sealedProfile */
  setProfile(sealedProfile) {
    this._send({ type: 'profile', profile: sealedProfile });
  }

  /** @param {boolean} raised */
  setHand(raised) {
    this._send({ type: 'hand', raised });
  }

  /**
   * A host action (docs/protocol.md, "Host controls"); the server refuses
   * it with a not-host error for anyone else.
   * @param {'remove'|'admit'|'deny'|'make-host'|'ask-mute'} type
   * @param {string} id participant id ('' for ask-mute: everyone else)
   */
  hostAction(type, id) {
    this._send({ type, id: id || undefined });
  }

  /** @param {boolean} locked */
  setLock(locked) {
    this._send({ type: 'set-lock', locked });
  }

  /** @param {boolean} enabled */
  setLobby(enabled) {
    this._send({ type: 'set-lobby', enabled });
  }

  /** @param {string} sealed a sealed chat message; the server relays it */
  sendChat(sealed) {
    this._send({ type: 'chat', data: sealed });
  }

  /**
   * Tells the server how large a video track is shown (0×0: not visible).
   * @param {string} trackId
   * @param {number} width
   * @param {number} height
   */
  sendLayer(trackId, width, height) {
    this._send({ type: 'layer', track: trackId, width: Math.round(width), height: Math.round(height) });
  }

  /**
   * Receive statistics per remote participant.
   * @returns {Promise<Map<string, RemoteStats>>}
   */
  async stats() {
    /** @type {Map<string, RemoteStats>} */
    const out = new Map();
    for (const id of this.remotes.keys()) out.set(id, emptyStats());
    const entries = [...this._receivers];
    const reports = await Promise.all(entries.map(([rcv]) => rcv.getStats().catch(() => null)));
    entries.forEach(([, meta], i) => {
      const rep = reports[i];
      if (!rep) return;
      let s = out.get(meta.participant);
      if (!s) {
        s = emptyStats();
        out.set(meta.participant, s);
      }
      const acc = s;
      rep.forEach((/** @type {any} */ st) => {
        if (st.type !== 'inbound-rtp') return;
        acc.packetsLost += Math.max(0, st.packetsLost || 0);
        // Audio jitter only: video arrives in bursts of a frame's packets,
        // so its jitter is large on a perfectly good link.
        if (st.kind === 'audio') acc.jitter = Math.max(acc.jitter, st.jitter || 0);
        if (st.kind === 'video' && meta.source === 'screen') {
          acc.screenFramesDecoded += st.framesDecoded || 0;
        } else if (st.kind === 'video') {
          acc.framesDecoded += st.framesDecoded || 0;
          acc.framesReceived += st.framesReceived || 0;
          acc.videoPacketsReceived += st.packetsReceived || 0;
          acc.frameWidth = Math.max(acc.frameWidth, st.frameWidth || 0);
          acc.frameHeight = Math.max(acc.frameHeight, st.frameHeight || 0);
          acc.framesPerSecond = Math.max(acc.framesPerSecond, st.framesPerSecond || 0);
          acc.freezeCount += st.freezeCount || 0;
          acc.freezeSeconds += st.totalFreezesDuration || 0;
        } else if (st.kind === 'audio') {
          acc.audioPacketsReceived += st.packetsReceived || 0;
          acc.audioBytesReceived += st.bytesReceived || 0;
          acc.concealedSamples += st.concealedSamples || 0;
          acc.totalSamples += st.totalSamplesReceived || 0;
          const codec = st.codecId ? rep.get(st.codecId) : null;
          if (codec && codec.mimeType) acc.audioCodec = String(codec.mimeType);
        }
      });
    });
    return out;
  }

  /**
   * The protocol of each connection's selected ICE pair on our side ("udp",
   * "tcp", or "" before one is selected): for tests.
   * @returns {Promise<{pub: string, sub: string}>}
   */
  async transports() {
    /** @param {RTCPeerConnection|null} pc */
    const of = async (pc) => {
      if (!pc) return '';
      const rep = await pc.getStats();
      /** @type {any} */
      let pair = null;
      rep.forEach((/** @type {any} */ st) => {
        // Chromium names the pair on the transport; Firefox marks it.
        if (st.type === 'transport' && st.selectedCandidatePairId) pair = rep.get(st.selectedCandidatePairId);
        if (!pair && st.type === 'candidate-pair' && st.selected) pair = st;
      });
      const local = pair ? rep.get(pair.localCandidateId) : null;
      return local ? String(local.protocol || '') : '';
    };
    return { pub: await of(this._pub), sub: await of(this._sub) };
  }

  /**
   * What the browser sends of the camera, per layer, and the uplink
   * estimate: for tests and the stats panel.
   * @returns {Promise<{available: number, layers: {rid: string, width: number, height: number, fps: number, bytesSent: number, limitation: string}[]}>}
   */
  async publishStats() {
    /** @type {{available: number, layers: {rid: string, width: number, height: number, fps: number, bytesSent: number, limitation: string}[]}} */
    const out = { available: 0, layers: [] };
    const s = this._senders.video;
    if (!this._pub || !s) return out;
    try {
      const rep = await this._pub.getStats();
      rep.forEach((/** @type {any} */ st) => {
        if (st.type === 'candidate-pair' && st.nominated && st.availableOutgoingBitrate) out.available = st.availableOutgoingBitrate;
      });
      (await s.getStats()).forEach((/** @type {any} */ st) => {
        if (st.type !== 'outbound-rtp') return;
        out.layers.push({
          rid: st.rid || '', width: st.frameWidth || 0, height: st.frameHeight || 0, fps: st.framesPerSecond || 0,
          bytesSent: st.bytesSent || 0, limitation: st.qualityLimitationReason || '',
        });
      });
    } catch {
      return out;
    }
    out.layers.sort((a, b) => a.rid.localeCompare(b.rid));
    return out;
  }

  /**
   * What the server reports of our sending: the worst loss fraction and
   * round-trip time over our senders (null before the first report).
   * @returns {Promise<{fractionLost: number, rtt: number}|null>}
   */
  async sendStats() {
    if (!this._pub) return null;
    /** @type {{fractionLost: number, rtt: number}|null} */
    let out = null;
    try {
      const rep = await this._pub.getStats();
      rep.forEach((/** @type {any} */ st) => {
        if (st.type !== 'remote-inbound-rtp') return;
        const cur = out || { fractionLost: 0, rtt: 0 };
        cur.fractionLost = Math.max(cur.fractionLost, st.fractionLost || 0);
        cur.rtt = Math.max(cur.rtt, st.roundTripTime || 0);
        out = cur;
      });
    } catch {
      return null;
    }
    return out;
  }

  /** Leaves the room and releases both connections. */
  leave() {
    this._send({ type: 'leave' });
    this._shutdown('');
  }

  /** @param {string} reason */
  _shutdown(reason) {
    if (this._closed) return;
    this._closed = true;
    clearInterval(this._pinger);
    if (this._pub) this._pub.close();
    if (this._sub) this._sub.close();
    if (this._ws) {
      this._ws.onclose = null;
      this._ws.close();
    }
    this.emit('closed', { reason });
  }
}

/**
 * @param {any} m
 * @returns {MeetingState}
 */
export function meetingState(m) {
  return {
    hosts: m && Array.isArray(m.hosts) ? m.hosts.map(String) : [],
    locked: !!(m && m.locked),
    lobby: !!(m && m.lobby),
  };
}

/**
 * @param {any} list
 * @returns {LobbyEntry[]}
 */
export function lobbyEntries(list) {
  return Array.isArray(list) ? list.map((w) => ({ id: String(w.id), profile: String(w.profile || '') })) : [];
}

/**
 * Puts Opus RED (RFC 2198) first where the browser has it (Chromium): each
 * audio packet then also carries the one before, so a lost packet is
 * decoded from the next instead of concealed. The server hands a
 * subscriber without RED the plain Opus inside (docs/quality.md).
 * @param {RTCRtpTransceiver} tr
 */
function preferRED(tr) {
  const caps = typeof RTCRtpReceiver.getCapabilities === 'function' ? RTCRtpReceiver.getCapabilities('audio') : null;
  if (!caps || typeof tr.setCodecPreferences !== 'function') return;
  const isRED = (/** @type {RTCRtpCodec} */ c) => c.mimeType.toLowerCase() === 'audio/red';
  if (!caps.codecs.some(isRED)) return;
  try {
    tr.setCodecPreferences([...caps.codecs.filter(isRED), ...caps.codecs.filter((c) => !isRED(c))]);
  } catch {
    // A browser that refuses the order sends plain Opus, as before.
  }
}

/** @returns {RemoteStats} */
function emptyStats() {
  return {
    framesDecoded: 0, framesReceived: 0, videoPacketsReceived: 0, audioPacketsReceived: 0, audioBytesReceived: 0,
    frameWidth: 0, frameHeight: 0, screenFramesDecoded: 0, packetsLost: 0, jitter: 0,
    framesPerSecond: 0, freezeCount: 0, freezeSeconds: 0, concealedSamples: 0, totalSamples: 0, audioCodec: '',
  };
}

/**
 * One handler per server message type (signaling/messages.go).
 * @type {Record<string, (this: Session, msg: any) => void>}
 */
const HANDLERS = {
  offer(msg) {
    if (msg.pc !== 'sub' || !this._sub) return;
    const pc = this._sub;
    this._enqueue('sub', async () => {
      await pc.setRemoteDescription({ type: 'offer', sdp: String(msg.sdp) });
      await pc.setLocalDescription(await pc.createAnswer());
      this._send({ type: 'answer', pc: 'sub', sdp: pc.localDescription ? pc.localDescription.sdp : '' });
    });
  },
  answer(msg) {
    if (msg.pc !== 'pub' || !this._pub) return;
    const pc = this._pub;
    this._enqueue('pub', async () => {
      await pc.setRemoteDescription({ type: 'answer', sdp: String(msg.sdp) });
      this._announceEncodings();
    });
  },
  candidate(msg) {
    if (msg.pc === 'pub' || msg.pc === 'sub') this._addCandidate(msg.pc, msg.candidate || null);
  },
  'participant-joined'(msg) {
    if (!msg.participant || !this._valid(msg.participant.id, 'participant id')) return;
    this.emit('participant-joined', this._upsert(msg.participant));
    void this.setRoomSize(this.remotes.size + 1);
  },
  'participant-updated'(msg) {
    if (!msg.participant || !this._valid(msg.participant.id, 'participant id')) return;
    this.emit('participant-updated', this._upsert(msg.participant));
  },
  'participant-left'(msg) {
    if (!validId(msg.id)) return;
    const id = String(msg.id);
    this.remotes.delete(id);
    for (const [rcv, meta] of this._receivers) if (meta.participant === id) this._receivers.delete(rcv);
    this.emit('participant-left', { id });
    void this.setRoomSize(this.remotes.size + 1);
  },
  'track-published'(msg) {
    const t = /** @type {TrackInfo} */ (msg.track);
    if (!t || !this._valid(t.participant, 'track publisher')) return;
    const r = this.remotes.get(t.participant);
    if (r) r.tracks.set(t.id, t);
    // Announced after its track arrived (the protocol allows either
    // order): bind the receiver to the announced source now.
    for (const meta of this._receivers.values()) {
      if (meta.trackId !== t.id || meta.participant !== t.participant || meta.source === t.source) continue;
      if (SOURCE_KIND[String(t.source)] !== meta.kind) {
        this.emit('refused', { what: 'track source' });
        if (this._cfg.transforms) this._cfg.transforms.bindReceiver(meta.handle, null);
        continue;
      }
      meta.source = String(t.source);
      if (this._cfg.transforms) this._cfg.transforms.bindReceiver(meta.handle, { senderId: meta.participant, source: meta.source });
      this.emit('track-source', { handle: meta.handle, source: meta.source });
    }
  },
  'track-unpublished'(msg) {
    const r = this.remotes.get(String(msg.participant));
    if (r) r.tracks.delete(String(msg.id));
  },
  chat(msg) {
    if (!this._valid(msg.from, 'chat sender')) return;
    this.emit('chat', { from: String(msg.from), data: String(msg.data || '') });
  },
  speakers(msg) {
    this.emit('speakers', { ids: Array.isArray(msg.ids) ? msg.ids.filter(validId) : [] });
  },
  layers(msg) {
    const mid = String(msg.mid);
    const active = Array.isArray(msg.active) ? msg.active.map(String) : [];
    this.layersAsked.set(mid, active);
    this.emit('layers', { mid, active });
    // Behind the pub negotiation: encodings exist only once it is done.
    this._enqueue('pub', () => this._setActiveLayers(mid, active));
  },
  ping(msg) {
    this._send({ type: 'pong', t: msg.t });
  },
  error(msg) {
    this.emit('error', { code: String(msg.code), message: String(msg.message), fatal: !!msg.fatal });
    if (msg.fatal) this._shutdown(String(msg.message));
  },
  drain(msg) {
    this.emit('drain', { message: String(msg.message || ''), deadline: Number(msg.deadline) || 0 });
  },
  'room-state'(msg) {
    this.emit('meeting', meetingState(msg));
  },
  'lobby-list'(msg) {
    this.emit('lobby', { waiting: lobbyEntries(msg.waiting) });
  },
  'participant-removed'(msg) {
    this.emit('removed', { id: String(msg.id), by: String(msg.by || '') });
  },
  'mute-request'(msg) {
    this.emit('mute-request', { from: String(msg.from || '') });
  },
  redirect(msg) {
    this.emit('redirect', { url: String(msg.url) });
    this._shutdown('');
  },
};
