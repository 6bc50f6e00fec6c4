// Test page for e2ee/browser_test.go: a loopback call between two
// RTCPeerConnections with fake camera and microphone, encrypted by one E2EE
// instance on the sending side and decrypted by another on the receiving side.
import { E2EE, newLinkKey, newJoinSalt } from '/e2ee-client/e2ee.js';

const ROOM = 'abcdefghj';
const SENDER = 'senderAAAAAAAAAAAAAAAA';
const log = /** @type {HTMLElement} */ (document.getElementById('log'));

/** @param {string} s */
function say(s) {
  log.textContent += s + '\n';
}

/** @param {number} ms */
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/**
 * Receiver-side statistics.
 * @param {RTCPeerConnection} pc
 */
async function inbound(pc) {
  const out = { framesDecoded: 0, videoPackets: 0, audioPackets: 0, videoCodec: '' };
  /** @type {Map<string, any>} */
  const byId = new Map();
  (await pc.getStats()).forEach((s) => byId.set(s.id, s));
  for (const s of byId.values()) {
    if (s.type !== 'inbound-rtp') continue;
    if (s.kind === 'video') {
      out.framesDecoded = s.framesDecoded || 0;
      out.videoPackets = s.packetsReceived || 0;
      const c = byId.get(s.codecId);
      if (c) out.videoCodec = c.mimeType;
    } else if (s.kind === 'audio') {
      out.audioPackets = s.packetsReceived || 0;
    }
  }
  return out;
}

/**
 * Runs one loopback call. With the same key it stops as soon as more than 30
 * frames were decoded, audio was heard and 'ok' was reported; with different
 * keys once 100 video packets arrived and 'failing' was reported, after at
 * least minMs. Either way it stops after maxMs, so a loaded machine slows the
 * test down instead of failing it.
 * @param {'script'|'streams'} path
 * @param {boolean} sameKey
 * @param {number} minMs
 * @param {number} maxMs
 */
async function runCase(path, sameKey, minMs, maxMs) {
  say(`case path=${path} sameKey=${sameKey}`);
  const keyA = newLinkKey();
  const keyB = sameKey ? keyA : newLinkKey();
  const tx = new E2EE({ path });
  const rx = new E2EE({ path });
  /** @type {string[]} */
  const errors = [];
  tx.onerror = rx.onerror = (m) => errors.push(m);
  /** @type {[string, string][]} */
  const states = [];
  rx.onstate = (handle, st, reason) => {
    states.push([String(handle), st]);
    say(`  state ${handle} ${st} ${reason}`);
  };
  await tx.setKey(keyA, ROOM);
  await rx.setKey(keyB, ROOM);
  // In a call the salt comes from the sender's sealed profile.
  const salt = newJoinSalt();
  tx.setSelf(SENDER, salt);
  rx.setPeer(SENDER, salt);

  const pc1 = new RTCPeerConnection({ ...tx.peerConnectionConfig() });
  const pc2 = new RTCPeerConnection({ ...rx.peerConnectionConfig() });
  pc1.onicecandidate = (e) => e.candidate && pc2.addIceCandidate(e.candidate);
  pc2.onicecandidate = (e) => e.candidate && pc1.addIceCandidate(e.candidate);
  const stream = await navigator.mediaDevices.getUserMedia({ audio: true, video: { width: 320, height: 240 } });
  /** @type {HTMLVideoElement} */ (document.getElementById('local')).srcObject = stream;
  for (const track of stream.getTracks()) {
    const kind = /** @type {'audio'|'video'} */ (track.kind);
    tx.attachSender(pc1.addTrack(track, stream), { source: kind === 'audio' ? 'microphone' : 'camera', kind });
  }
  // Peak level of the received audio after decoding: the fake microphone
  // beeps, so decrypted audio has a peak and dropped or silenced audio has
  // none. (totalAudioEnergy would need an audio output device.)
  const audioCtx = new AudioContext();
  await audioCtx.resume();
  const analyser = audioCtx.createAnalyser();
  analyser.fftSize = 2048;
  const samples = new Float32Array(analyser.fftSize);
  let peak = 0;
  const meter = setInterval(() => {
    analyser.getFloatTimeDomainData(samples);
    for (const v of samples) peak = Math.max(peak, Math.abs(v));
  }, 20);
  pc2.ontrack = (ev) => {
    // In a real call the sender id is ev.streams[0].id (the SFU sets the msid).
    const kind = /** @type {'audio'|'video'} */ (ev.track.kind);
    const h = rx.attachReceiver(ev.receiver, { kind });
    rx.bindReceiver(h, { senderId: SENDER, source: kind === 'audio' ? 'microphone' : 'camera' });
    const el = /** @type {HTMLMediaElement} */ (document.getElementById(kind === 'audio' ? 'remote-audio' : 'remote'));
    el.srcObject = new MediaStream([ev.track]);
    el.play().catch(() => {});
    // Chrome feeds remote audio to WebAudio only while a media element plays it.
    if (kind === 'audio') audioCtx.createMediaStreamSource(new MediaStream([ev.track])).connect(analyser);
  };
  await pc1.setLocalDescription();
  await pc2.setRemoteDescription(/** @type {RTCSessionDescriptionInit} */ (pc1.localDescription));
  await pc2.setLocalDescription();
  await pc1.setRemoteDescription(/** @type {RTCSessionDescriptionInit} */ (pc2.localDescription));

  const t0 = performance.now();
  let st = await inbound(pc2);
  /** @param {string} s */
  const seen = (s) => states.some((x) => x[1] === s);
  for (;;) {
    await sleep(250);
    st = await inbound(pc2);
    const elapsed = performance.now() - t0;
    const done = sameKey
      ? st.framesDecoded > 30 && peak >= 0.01 && seen('ok')
      : st.videoPackets >= 100 && seen('failing') && elapsed >= minMs;
    if (done || elapsed >= maxMs) break;
  }
  clearInterval(meter);
  await audioCtx.close();
  const result = { path: tx.path, ...st, audioPeak: peak, ms: Math.round(performance.now() - t0), states, errors };
  say('  ' + JSON.stringify(result));
  stream.getTracks().forEach((t) => t.stop());
  pc1.close();
  pc2.close();
  tx.close();
  rx.close();
  return result;
}

/** @type {any} */ (window).runCase = runCase;
/** @type {any} */ (window).support = () => ({
  support: E2EE.support(),
  script: typeof RTCRtpScriptTransform !== 'undefined',
  streams: 'createEncodedStreams' in RTCRtpSender.prototype,
});
/** @type {any} */ (window).pageReady = true;
