// crossbrowser.mjs: one Firefox ESR tab and one Chromium tab join one
// end-to-end encrypted room of a real `meet` binary and must decode each
// other's video and receive each other's audio.
//
// Firefox takes the RTCRtpScriptTransform path of the E2EE worker. Chromium
// joins once per path of --chromium-paths (by default first as the page
// picks, then forced onto createEncodedStreams), so a pass proves both
// browsers' encoders, transforms and key derivation agree on one frame
// format on every path pair.
//
// Firefox ignores loopback ICE candidates, so this script expects to run in a
// network namespace that has a non-loopback address (--media-ip, by default
// the veth address 10.99.0.1 that e2e/firefox_test.go sets up). The server
// advertises only that address for media, while the pages load from
// http://127.0.0.1:<port>, a secure context (http://10.99.0.1 is not one, and
// there the page would have neither navigator.mediaDevices nor crypto.subtle).
//
// Output: progress lines, then one line "RESULT <json>" that the Go test
// reads. Exit status 0 when both directions decode, 1 when not, 2 for bad
// arguments. Everything this script starts (server, browsers) is stopped
// before it exits, also on SIGINT/SIGTERM and on its own deadline.

import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import puppeteer from 'puppeteer-core';
import { FIREFOX_PREFS } from './prefs.mjs';

const USAGE = `usage: node crossbrowser.mjs --meet <path to meet binary> [options]
  --firefox <path>        Firefox executable (default /usr/bin/firefox-esr)
  --chromium <path>       Chromium executable (default /usr/bin/chromium)
  --media-ip <ip>         non-loopback address for media (default 10.99.0.1)
  --frames <n>            video frames each side must decode (default 30)
  --timeout <seconds>     how long decoding may take after a join (default 60)
  --deadline <seconds>    hard limit for the whole run (default 150)
  --chromium-paths <list> E2EE paths Chromium joins with in turn, each of auto,
                          script, streams (default auto,streams)
  --profiles <dir>        where browser profiles go (default a fresh temp dir)
  --screenshot <file>     save a PNG of the Firefox tab in the call
  --no-wrong-key          skip the last round, where Chromium rejoins with another
                          key and neither side may decode the other`;

/** @returns {Record<string, any>} */
function options() {
  const { values } = parseArgs({
    options: {
      meet: { type: 'string' },
      firefox: { type: 'string', default: '/usr/bin/firefox-esr' },
      chromium: { type: 'string', default: '/usr/bin/chromium' },
      'media-ip': { type: 'string', default: '10.99.0.1' },
      frames: { type: 'string', default: '30' },
      timeout: { type: 'string', default: '60' },
      deadline: { type: 'string', default: '150' },
      'chromium-paths': { type: 'string', default: 'auto,streams' },
      profiles: { type: 'string' },
      screenshot: { type: 'string' },
      'no-wrong-key': { type: 'boolean', default: false },
      help: { type: 'boolean', default: false },
    },
  });
  const frames = Number(values.frames);
  const timeout = Number(values.timeout);
  const deadline = Number(values.deadline);
  const paths = values['chromium-paths'].split(',').filter((p) => p);
  const bad = !values.meet || !(frames > 0) || !(timeout > 0) || !(deadline > 0) ||
    !paths.length || !paths.every((p) => ['auto', 'script', 'streams'].includes(p));
  if (values.help || bad) {
    console.error(USAGE);
    process.exit(values.help ? 0 : 2);
  }
  return { ...values, frames, timeout, deadline, 'chromium-paths': paths };
}

const opt = options();
const t0 = Date.now();
/** Seconds since start, for the timing lines. */
const since = () => ((Date.now() - t0) / 1000).toFixed(1);
const log = (/** @type {string} */ msg) => console.log(`[${since()}s] ${msg}`);
const sleep = (/** @type {number} */ ms) => new Promise((r) => setTimeout(r, ms));

/** What was started, so cleanup can stop it whatever happened. */
const started = { server: null, browsers: [], profiles: '', ownProfiles: false };
/** Last lines of the server's stderr, for failure reports. */
const serverLog = [];

/** The result line; filled in as the run goes. */
const result = {
  ok: false,
  error: '',
  timings: {},
  firefox: { version: '', path: '', e2ee: false, safetyCode: '' },
  chromium: { version: '' },
  /** One per Chromium join: the path asked for and used, and what each side decoded. */
  rounds: [],
  screenshot: '',
};

// startServer runs the meet binary on an ephemeral HTTP port of 127.0.0.1
// and an ephemeral UDP port of the media address, and returns its HTTP base
// URL once it logged that it runs. No --dev: the server must advertise only
// the media address, never loopback, so both browsers really use it.
async function startServer() {
  const args = ['--listen', '127.0.0.1:0', '--udp-port', '0', '--media-ip', opt['media-ip'],
    '--public-ip', opt['media-ip'], '--log-level', 'info'];
  const env = { ...process.env, MEET_SECRET: randomBytes(48).toString('base64') };
  const srv = spawn(opt.meet, args, { env, stdio: ['ignore', 'ignore', 'pipe'] });
  started.server = srv;
  return await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('meet did not report "meet is running" within 20 s')), 20_000);
    let buf = '';
    srv.stderr.setEncoding('utf8');
    srv.stderr.on('data', (chunk) => {
      buf += chunk;
      let nl;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        serverLog.push(line);
        if (serverLog.length > 200) serverLog.shift();
        const m = /meet is running.*http=(\S+)/.exec(line);
        if (m) {
          clearTimeout(timer);
          resolve('http://' + m[1].replace(/^"|"$/g, ''));
        }
      }
    });
    srv.on('error', (err) => { clearTimeout(timer); reject(new Error(`starting ${opt.meet}: ${err.message}`)); });
    srv.on('exit', (code, sig) => { clearTimeout(timer); reject(new Error(`meet exited (${code ?? sig}) before it ran:\n${serverLog.join('\n')}`)); });
  });
}

async function newRoom(base) {
  const res = await fetch(base + '/api/rooms', {
    method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}',
  });
  const body = await res.json();
  if (!res.ok || !body.code || body.e2ee !== true) {
    throw new Error(`POST /api/rooms: ${res.status} ${JSON.stringify(body)}`);
  }
  return body.code;
}

const VIEWPORT = { width: 1280, height: 800 };

async function launchFirefox() {
  return puppeteer.launch({
    browser: 'firefox',
    executablePath: opt.firefox,
    headless: true,
    userDataDir: join(started.profiles, 'firefox'),
    defaultViewport: VIEWPORT,
    timeout: 60_000,
    // Our own cleanup closes the browsers; puppeteer's signal handlers would
    // race it and exit before the server is stopped.
    handleSIGINT: false, handleSIGTERM: false, handleSIGHUP: false,
    extraPrefsFirefox: FIREFOX_PREFS,
  });
}

async function launchChromium() {
  return puppeteer.launch({
    browser: 'chrome',
    executablePath: opt.chromium,
    headless: true,
    userDataDir: join(started.profiles, 'chromium'),
    defaultViewport: VIEWPORT,
    timeout: 60_000,
    handleSIGINT: false, handleSIGTERM: false, handleSIGHUP: false,
    args: [
      '--no-sandbox',
      '--use-fake-device-for-media-stream',
      '--use-fake-ui-for-media-stream',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--no-first-run',
      '--disable-gpu',
      '--autoplay-policy=no-user-gesture-required',
    ],
  });
}

/**
 * One browser's tab in the call, with its console kept for failure reports.
 */
class Tab {
  constructor(name, browser, page) {
    this.name = name;
    this.browser = browser;
    this.page = page;
    /** @type {string[]} */
    this.console = [];
    const keep = (s) => { this.console.push(s); if (this.console.length > 200) this.console.shift(); };
    page.on('console', (m) => keep(`${m.type()}: ${m.text()}`));
    page.on('pageerror', (e) => keep(`pageerror: ${e && e.message ? e.message : e}`));
  }

  static async open(name, browser) {
    const pages = await browser.pages();
    const page = pages[0] || (await browser.newPage());
    return new Tab(name, browser, page);
  }

  async goto(url) {
    await this.page.goto(url, { waitUntil: 'load', timeout: 30_000 });
  }

  /** Page state for reports: screen, message, self, participants and stats. */
  async state() {
    try {
      return await this.page.evaluate(async () => {
        const h = /** @type {any} */ (window).meetTest;
        if (!h) return 'no window.meetTest';
        return { screen: h.screen(), message: h.message(), self: h.self(), participants: h.participants(), stats: await h.stats() };
      });
    } catch (e) {
      return `evaluate failed: ${e.message}`;
    }
  }

  /** Polls fn(arg) in the page every 250 ms until it returns a truthy value. */
  async waitFor(what, fn, arg, seconds) {
    const end = Date.now() + seconds * 1000;
    let last = '';
    while (Date.now() < end) {
      try {
        const v = await this.page.evaluate(fn, arg);
        if (v) return v;
      } catch (e) {
        last = e.message;
      }
      await sleep(250);
    }
    throw new Error(`${this.name}: ${what}: not within ${seconds} s${last ? ` (last error: ${last})` : ''}`);
  }
}

/** Waits until tab is in the call; returns meetTest.self(). */
async function inCall(tab) {
  const self = await tab.waitFor('in the call', () => {
    const h = /** @type {any} */ (window).meetTest;
    if (!h) return null;
    if (h.screen() === 'error') return { error: h.message() };
    return h.screen() === 'call' && h.self() && h.self().id ? h.self() : null;
  }, null, 30);
  if (self.error) throw new Error(`${tab.name}: the page shows an error: ${self.error}`);
  return self;
}

/**
 * Waits until tab decoded more than frames video frames of participant id,
 * received its audio and decrypts it; returns that participant's stats.
 */
async function decodes(tab, id, frames, seconds) {
  return tab.waitFor(`decoding the other tab (>${frames} frames, audio, decrypt ok)`, async ([id, frames]) => {
    const s = (await /** @type {any} */ (window).meetTest.stats())[id];
    return s && s.framesDecoded > frames && s.audioPacketsReceived > 0 && s.decryptState === 'ok' ? s : null;
  }, [id, frames], seconds);
}

/**
 * Waits until tab received media of participant id (more than 50 audio
 * packets) while showing it as undecryptable, and checks it decoded no video
 * frame of it; returns that participant's stats. Video is not required to
 * arrive at all: the client stops asking for the video of a tile it cannot
 * show, and the SFU then stops sending it.
 */
async function refuses(tab, id, seconds) {
  const s = await tab.waitFor('showing the wrong-key tab as undecryptable', async (id) => {
    const s = (await /** @type {any} */ (window).meetTest.stats())[id];
    return s && s.audioPacketsReceived > 50 && s.decryptState === 'failing' ? s : null;
  }, id, seconds);
  if (s.framesDecoded !== 0) throw new Error(`${tab.name}: decoded ${s.framesDecoded} frames of a tab with another key`);
  return s;
}

// wrongKeyRound: the Chromium tab rejoins with a different key. Neither side
// may decode a single frame of the other, and each must say so, which shows
// the frames counted in the rounds before really went through decryption.
async function wrongKeyRound(fox, foxSelf, chrome, wrongLink) {
  const round = { wrongKey: true, path: '', firefoxSaw: null, chromiumSaw: null, seconds: 0 };
  result.rounds.push(round);
  const begin = Date.now();
  await chrome.goto(wrongLink('Mallory'));
  const chromeSelf = await inCall(chrome);
  round.path = chromeSelf.path;
  if (chromeSelf.safetyCode === foxSelf.safetyCode) throw new Error('a different key gave the same safety code');
  try {
    [round.firefoxSaw, round.chromiumSaw] = await Promise.all([
      refuses(fox, chromeSelf.id, opt.timeout),
      refuses(chrome, foxSelf.id, opt.timeout),
    ]);
  } catch (e) {
    log('firefox state: ' + JSON.stringify(await fox.state()));
    log('chromium state: ' + JSON.stringify(await chrome.state()));
    throw e;
  }
  round.seconds = (Date.now() - begin) / 1000;
  log(`wrong key: firefox got ${round.firefoxSaw.videoPacketsReceived} video packets, decoded ${round.firefoxSaw.framesDecoded}; ` +
    `chromium got ${round.chromiumSaw.videoPacketsReceived}, decoded ${round.chromiumSaw.framesDecoded}`);
}

/**
 * Saves a PNG of tab once the tile of participant id plays video, so the
 * picture shows the call rather than a tile still waiting for its stream.
 */
async function screenshot(tab, id, file) {
  // A picture is a by-product, not a check: if the tile never plays (the
  // UI changed, say), say so and take it anyway.
  const dom = await tab.waitFor('showing the other tab\'s video', async (id) => {
    const v = /** @type {HTMLVideoElement|null} */ (document.querySelector(`.tile[data-id="${id}"] video`));
    if (!v || !v.videoWidth || v.paused) return null;
    // Two animation frames: the tile's layout and first picture are painted.
    await new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r)));
    return { tiles: document.querySelectorAll('.tile').length, video: `${v.videoWidth}x${v.videoHeight}`, count: document.querySelector('.count')?.textContent };
  }, id, 15).catch((e) => `warning: ${e.message}`);
  await tab.page.screenshot({ path: file });
  result.screenshot = file;
  log(`screenshot ${file}: ${JSON.stringify(dom)}`);
}

async function closeBrowser(b) {
  const proc = b.process();
  try {
    await Promise.race([b.close(), sleep(10_000).then(() => { throw new Error('close timed out'); })]);
  } catch {
    if (proc && proc.exitCode === null) proc.kill('SIGKILL');
  }
}

async function stopServer() {
  const srv = started.server;
  if (!srv || srv.exitCode !== null || srv.signalCode !== null) return;
  const exited = new Promise((r) => srv.once('exit', r));
  srv.kill('SIGTERM');
  if (await Promise.race([exited.then(() => true), sleep(8_000).then(() => false)])) return;
  srv.kill('SIGKILL');
  await exited;
}

let cleaning = null;
function cleanup() {
  cleaning ??= (async () => {
    await Promise.all(started.browsers.map(closeBrowser));
    await stopServer();
    if (started.ownProfiles) rmSync(started.profiles, { recursive: true, force: true });
  })();
  return cleaning;
}

async function finish(code) {
  await cleanup();
  result.timings.total = Number(since());
  console.log('RESULT ' + JSON.stringify(result));
  process.exit(code);
}

for (const sig of ['SIGINT', 'SIGTERM']) {
  process.on(sig, () => {
    result.error = `stopped by ${sig}`;
    void finish(1);
  });
}
// The hard limit: whatever hangs (a browser that never starts, an evaluate
// that never returns), the run ends and cleans up.
setTimeout(() => {
  result.error = `deadline of ${opt.deadline} s passed`;
  void finish(1);
}, opt.deadline * 1000).unref();

async function main() {
  if (opt.profiles) {
    started.profiles = opt.profiles;
  } else {
    started.profiles = mkdtempSync(join(tmpdir(), 'meet-crossbrowser-'));
    started.ownProfiles = true;
  }
  const base = await startServer();
  result.timings.server = Number(since());
  log(`server ${base}, media on ${opt['media-ip']}`);

  // Both browsers start at once: on a busy machine each takes seconds.
  const [ff, cr] = await Promise.all([
    launchFirefox().then((b) => (started.browsers.push(b), b)),
    launchChromium().then((b) => (started.browsers.push(b), b)),
  ]);
  result.firefox.version = await ff.version();
  result.chromium.version = await cr.version();
  result.timings.browsers = Number(since());
  log(`browsers: ${result.firefox.version}, ${result.chromium.version}`);

  const code = await newRoom(base);
  const key = randomBytes(16).toString('base64url');
  const link = (name, path) => {
    // Small video: two browsers encode and decode on a shared 2-core machine.
    // The name goes in the fragment after the key, never in the query.
    const q = new URLSearchParams({ autojoin: '1', video: 'low', e2eepath: path });
    return `${base}/r/${code}?${q}#${key}&name=${encodeURIComponent(name)}`;
  };
  const fox = await Tab.open('firefox', ff);
  const chrome = await Tab.open('chromium', cr);
  await fox.goto(link('Fox', 'auto'));
  const foxSelf = await inCall(fox);
  Object.assign(result.firefox, { path: foxSelf.path, e2ee: foxSelf.e2ee, safetyCode: foxSelf.safetyCode });
  log(`firefox joined: path=${foxSelf.path} e2ee=${foxSelf.e2ee}`);

  // Firefox stays in the call; the Chromium tab joins once per path, a
  // fresh participant each time, so Firefox must decode each newcomer.
  for (const [i, want] of opt['chromium-paths'].entries()) {
    const round = { chromiumPath: want, path: '', e2ee: false, safetyCode: '', firefoxDecoded: null, chromiumDecoded: null, seconds: 0 };
    result.rounds.push(round);
    const begin = Date.now();
    await chrome.goto(link(`Chrome ${i + 1}`, want));
    const chromeSelf = await inCall(chrome);
    Object.assign(round, { path: chromeSelf.path, e2ee: chromeSelf.e2ee, safetyCode: chromeSelf.safetyCode });
    log(`chromium joined (e2eepath=${want}): path=${chromeSelf.path} e2ee=${chromeSelf.e2ee}`);
    try {
      [round.firefoxDecoded, round.chromiumDecoded] = await Promise.all([
        decodes(fox, chromeSelf.id, opt.frames, opt.timeout),
        decodes(chrome, foxSelf.id, opt.frames, opt.timeout),
      ]);
    } catch (e) {
      log('firefox state: ' + JSON.stringify(await fox.state()));
      log('chromium state: ' + JSON.stringify(await chrome.state()));
      log('firefox console:\n' + fox.console.join('\n'));
      log('chromium console:\n' + chrome.console.join('\n'));
      throw e;
    }
    round.seconds = (Date.now() - begin) / 1000;
    log(`firefox decoded ${round.firefoxDecoded.framesDecoded} frames of Chrome (${round.path}); ` +
      `chromium decoded ${round.chromiumDecoded.framesDecoded} frames of Fox`);
    if (i === 0 && opt.screenshot) await screenshot(fox, chromeSelf.id, opt.screenshot);
    const problems = [];
    if (!foxSelf.e2ee || !chromeSelf.e2ee) problems.push('a tab is not encrypted');
    if (want !== 'auto' && chromeSelf.path !== want) problems.push(`chromium used E2EE path "${chromeSelf.path}", asked for "${want}"`);
    if (!foxSelf.safetyCode || foxSelf.safetyCode !== chromeSelf.safetyCode) {
      problems.push(`safety codes differ: firefox "${foxSelf.safetyCode}", chromium "${chromeSelf.safetyCode}"`);
    }
    if (problems.length) throw new Error(problems.join('; '));
  }
  result.timings.decoded = Number(since());
  if (!opt['no-wrong-key']) await wrongKeyRound(fox, foxSelf, chrome, (name) => link(name, 'auto').replace(/#.*/, '#' + randomBytes(16).toString('base64url')));
  if (foxSelf.path !== 'script') throw new Error(`firefox used E2EE path "${foxSelf.path}", want "script" (RTCRtpScriptTransform)`);
  result.ok = true;
}

main().then(() => finish(0), async (e) => {
  result.error = e && e.message ? e.message : String(e);
  log('FAIL: ' + result.error);
  if (serverLog.length) log('server log (last lines):\n' + serverLog.slice(-30).join('\n'));
  await finish(1);
});
