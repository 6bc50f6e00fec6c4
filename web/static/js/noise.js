// Noise suppression for the microphone: RNNoise (WebAssembly, as an
// AudioWorklet) when the binary carries it, else the browser's own
// noiseSuppression constraint. The suppressor's files come from npm at build
// time (make vendor-web) and are served by us under /vendor/noise/; a build
// without them still works, with the toggle on the browser's suppression.

/** Where the server serves the vendored package (web/embed.go). */
export const NOISE_BASE = '/vendor/noise/';

/**
 * "rnnoise": the WebAssembly suppressor runs on the track we send;
 * "browser": the microphone's own noiseSuppression is on;
 * "off": neither.
 * @typedef {'rnnoise'|'browser'|'off'} NoiseMode
 */

/**
 * The package's exports we use (see its index.d.ts).
 * @typedef {object} NoiseModule
 * @property {(o: {url: string, simdUrl: string}) => Promise<ArrayBuffer>} loadRnnoise
 * @property {new (ctx: AudioContext, o: {maxChannels: number, wasmBinary: ArrayBuffer}) => AudioWorkletNode & {destroy(): void}} RnnoiseWorkletNode
 */

/**
 * Runs one microphone track through RNNoise and gives the cleaned track to
 * send. The raw track stays the caller's: muting it (enabled = false) still
 * mutes what is sent.
 */
export class NoiseSuppressor {
  constructor() {
    /** @type {AudioContext|null} */
    this._ctx = null;
    /** @type {(AudioWorkletNode & {destroy(): void})|null} */
    this._node = null;
    /** @type {MediaStreamAudioSourceNode|null} */
    this._src = null;
    /** @type {MediaStreamAudioDestinationNode|null} */
    this._dst = null;
    /** @type {Promise<{mod: NoiseModule, wasm: ArrayBuffer}|null>|null} */
    this._loading = null;
  }

  /**
   * Loads the package once; null when this build does not carry it or the
   * browser lacks AudioWorklet.
   * @returns {Promise<{mod: NoiseModule, wasm: ArrayBuffer}|null>}
   */
  load() {
    if (!this._loading) {
      this._loading = (async () => {
        if (typeof AudioWorkletNode !== 'function') return null;
        try {
          const mod = /** @type {NoiseModule} */ (await import(NOISE_BASE + 'index.js'));
          const wasm = await mod.loadRnnoise({ url: NOISE_BASE + 'rnnoise.wasm', simdUrl: NOISE_BASE + 'rnnoise_simd.wasm' });
          if (!wasm || wasm.byteLength < 8) return null;
          return { mod, wasm };
        } catch (err) {
          console.warn('meet: noise suppressor not available, using the browser\'s:', err);
          return null;
        }
      })();
    }
    return this._loading;
  }

  /**
   * Starts suppressing raw; returns the track to send, or null when RNNoise
   * is not available (the caller falls back to the browser's suppression).
   * @param {MediaStreamTrack} raw
   * @returns {Promise<MediaStreamTrack|null>}
   */
  async start(raw) {
    this.stop();
    const loaded = await this.load();
    if (!loaded) return null;
    // RNNoise works on 48 kHz frames.
    const ctx = new AudioContext({ sampleRate: 48000 });
    try {
      await ctx.audioWorklet.addModule(NOISE_BASE + 'rnnoise/workletProcessor.js');
      const node = new loaded.mod.RnnoiseWorkletNode(ctx, { maxChannels: 1, wasmBinary: loaded.wasm });
      const src = ctx.createMediaStreamSource(new MediaStream([raw]));
      const dst = ctx.createMediaStreamDestination();
      src.connect(node).connect(dst);
      // A context made without a user gesture may start suspended; the
      // Join or toggle click is one, but do not hang if it is refused.
      await Promise.race([ctx.resume(), new Promise((r) => setTimeout(r, 1000))]);
      if (ctx.state !== 'running') throw new Error('audio context is ' + ctx.state);
      this._ctx = ctx;
      this._node = node;
      this._src = src;
      this._dst = dst;
      return dst.stream.getAudioTracks()[0] || null;
    } catch (err) {
      console.warn('meet: starting the noise suppressor failed:', err);
      void ctx.close().catch(() => {});
      return null;
    }
  }

  /** Whether RNNoise is running. */
  get running() {
    return !!this._ctx;
  }

  /** Stops the worklet and releases the audio context. */
  stop() {
    if (this._node) {
      this._node.destroy();
      this._node.disconnect();
    }
    if (this._src) this._src.disconnect();
    if (this._dst) for (const t of this._dst.stream.getTracks()) t.stop();
    if (this._ctx) void this._ctx.close().catch(() => {});
    this._ctx = null;
    this._node = null;
    this._src = null;
    this._dst = null;
  }
}

/**
 * Turns the browser's own noise suppression on a microphone track on or off.
 * @param {MediaStreamTrack} track
 * @param {boolean} on
 */
export async function browserNoiseSuppression(track, on) {
  try {
    await track.applyConstraints({ ...track.getConstraints(), noiseSuppression: on });
  } catch (err) {
    console.warn('meet: noiseSuppression constraint refused:', err);
  }
}
