// What a receiver knows of each sender (docs/e2ee.md §5.1): the join salt
// and time of its newest accepted profile, and the counters of its sealed
// messages, so that a replayed, reordered or stale message is refused and
// media is accepted only under a fresh join salt.

import { encode } from './b64.js';

/** A profile whose timestamp is further than this from our clock is refused. */
export const PROFILE_MAX_SKEW_MS = 5 * 60 * 1000;
/** A sender's media is accepted while its newest profile is younger than this. */
export const PROFILE_MAX_AGE_MS = 5 * 60 * 1000;
/** How often a participant re-sends its profile with a new timestamp. */
export const PROFILE_REFRESH_MS = 60 * 1000;

/** @typedef {import('./message.js').Opened} Opened */
/**
 * @typedef {object} Peer
 * @property {Uint8Array} salt
 * @property {number} ts profile timestamp, ms since the epoch
 * @property {number} profileCounter
 * @property {number} chatCounter -1 before the first chat message
 */

/**
 * Why a message was refused; '' when accepted.
 * @typedef {''|'stale'|'replay'|'unknown-sender'} Refusal
 */

export class PeerRegistry {
  constructor() {
    /** @type {Map<string, Peer>} */
    this.peers = new Map();
  }

  /**
   * Judges an opened profile of senderId whose plaintext carried ts. The
   * same profile announced again (the server repeats it with every
   * update) is accepted and changes nothing.
   * @param {string} senderId
   * @param {Opened} m
   * @param {number} ts
   * @param {number} now
   * @returns {Refusal}
   */
  acceptProfile(senderId, m, ts, now) {
    if (!Number.isFinite(ts) || Math.abs(now - ts) > PROFILE_MAX_SKEW_MS) return 'stale';
    const p = this.peers.get(senderId);
    if (p && encode(p.salt) === encode(m.salt)) {
      if (m.counter < p.profileCounter || (m.counter === p.profileCounter && ts !== p.ts)) return 'replay';
      p.profileCounter = m.counter;
      p.ts = ts;
      return '';
    }
    // A new join salt under a known id (a server reusing ids) replaces the
    // old one only with a newer profile.
    if (p && ts <= p.ts) return 'replay';
    this.peers.set(senderId, { salt: m.salt, ts, profileCounter: m.counter, chatCounter: -1 });
    return '';
  }

  /**
   * Judges an opened chat message of senderId.
   * @param {string} senderId
   * @param {Opened} m
   * @returns {Refusal}
   */
  acceptChat(senderId, m) {
    const p = this.peers.get(senderId);
    if (!p || encode(p.salt) !== encode(m.salt)) return 'unknown-sender';
    if (m.counter <= p.chatCounter) return 'replay';
    p.chatCounter = m.counter;
    return '';
  }

  /**
   * The join salt media of senderId must be encrypted under, or null
   * while there is no fresh profile.
   * @param {string} senderId
   * @param {number} now
   * @returns {Uint8Array|null}
   */
  saltOf(senderId, now) {
    const p = this.peers.get(senderId);
    return p && now - p.ts <= PROFILE_MAX_AGE_MS ? p.salt : null;
  }

  /** @param {string} senderId */
  forget(senderId) {
    this.peers.delete(senderId);
  }
}
