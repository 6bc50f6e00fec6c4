// window.meetTest: a small read-only view of the page's state for browser
// tests and kiosks, so they need not scrape the DOM. It exposes nothing
// the page's own user cannot see (no key material).

/** @typedef {import('./call.js').Call} Call */

/**
 * @typedef {object} PageState
 * @property {string} screen "landing", "prejoin", "joining", "lobby" (waiting to be let in), "call", "ended" or "error"
 * @property {string} message the error or end message shown, if any
 * @property {Call|null} call
 */

/**
 * Installs window.meetTest reading from state.
 * @param {PageState} state
 */
export function installTestHook(state) {
  const hook = {
    /** @returns {string} */
    screen: () => state.screen,
    /** @returns {string} */
    message: () => state.message,
    /** Our own participant: id, name, whether the room is encrypted, the safety code and the transform path. */
    self: () => {
      const c = state.call;
      if (!c) return null;
      return {
        id: c.selfId, name: c.self.name, e2ee: c.security.e2ee, safetyCode: c.security.safetyCode, path: c.security.path,
        audioMuted: c.self.audioMuted, videoMuted: c.self.videoMuted, sharing: !!c.self.screen, listenOnly: c.listenOnly,
        noise: { ...c.noise }, connection: c.connection, reconnects: c.reconnects, speakerId: c.speakerId,
        videoDevice: c.self.video ? c.self.video.getSettings().deviceId || '' : '',
        audioDevice: c.self.audio ? c.self.audio.getSettings().deviceId || '' : '',
        videoTrackId: c.self.video ? c.self.video.id : '',
        encodings: c.session ? c.session.cameraEncodings() : [],
        layersAsked: c.session ? Object.fromEntries(c.session.layersAsked) : {},
        pubOffers: c.session ? c.session.pubOffers : 0,
        quality: c.self.quality,
        host: c.self.host, handRaised: c.self.handRaised,
      };
    },
    /** The other participants as the UI shows them. */
    participants: () => {
      const c = state.call;
      if (!c) return [];
      return [...c.participants.values()].filter((p) => !p.self).map((p) => ({
        id: p.id, name: p.name, nameUnreadable: p.nameUnreadable, decryptState: p.decrypt, problem: p.problem, profileRefused: p.profileRefused,
        audioMuted: p.audioMuted, videoMuted: p.videoMuted, hasVideo: !!p.video, hasAudio: !!p.audio,
        hasScreen: !!p.screen, speaking: p.speaking, quality: p.quality,
        host: p.host, handRaised: p.handRaised,
      }));
    },
    /** The meeting's host state and, for a host, who waits in the lobby (names as shown). */
    meeting: () => {
      const c = state.call;
      if (!c) return null;
      return { ...c.meeting, isHost: c.isHost, lobby: c.lobby.map((w) => ({ id: w.id, name: w.name, nameUnreadable: w.nameUnreadable })) };
    },
    /** What we send of the camera, per layer, and the uplink estimate. */
    publishStats: async () => (state.call && state.call.session ? state.call.session.publishStats() : null),
    /** The protocol of the selected ICE pair of each connection: {pub, sub}, "udp" or "tcp". */
    transports: async () => (state.call && state.call.session ? state.call.session.transports() : null),
    /** Receive statistics per remote participant id. */
    stats: async () => (state.call ? state.call.stats() : {}),
    /** The layout in use: "grid" or "stage", and whose tile (key) is on the stage. */
    layout: () => {
      const el = document.querySelector('.stage-area');
      const stage = document.querySelector('.stage .tile');
      return { mode: el ? /** @type {HTMLElement} */ (el).dataset.mode || 'grid' : 'none', stage: stage ? /** @type {HTMLElement} */ (stage).dataset.key || '' : '' };
    },
    /** Chat as shown: sender name, text, whether it could be decrypted. */
    messages: () => (state.call ? state.call.messages.map((m) => ({ from: m.from, name: m.name, text: m.text, self: m.self, readable: m.readable, system: !!m.system })) : []),
  };
  /** @type {any} */ (window).meetTest = hook;
}
