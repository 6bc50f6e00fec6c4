// evalbridge.mjs: one headless Firefox ESR tab that a Go test drives line
// by line, so tests written against a chromedp tab can run in Firefox too
// (e2e/hostile_test.go). It opens --url, prints {"ready":true}, then reads
// JSON lines {"id", "expr"} on stdin, evaluates each expression (awaiting a
// promise) in the page and prints {"id", "value"} or {"id", "error"}. It
// closes the browser and exits when stdin ends or after --deadline seconds.
//
// Firefox drops loopback ICE candidates unless
// media.peerconnection.ice.loopback is set, which this tab does, so it can
// reach a test server on 127.0.0.1 without a network namespace.

import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import puppeteer from 'puppeteer-core';
import { FIREFOX_PREFS } from './prefs.mjs';

const { values: opt } = parseArgs({
  options: {
    url: { type: 'string' },
    profile: { type: 'string' },
    firefox: { type: 'string', default: '/usr/bin/firefox-esr' },
    deadline: { type: 'string', default: '90' },
  },
});
if (!opt.url || !opt.profile) {
  console.error('usage: node evalbridge.mjs --url <page> --profile <dir> [--firefox <path>] [--deadline <seconds>]');
  process.exit(2);
}

const browser = await puppeteer.launch({
  browser: 'firefox',
  executablePath: opt.firefox,
  headless: true,
  userDataDir: opt.profile,
  defaultViewport: { width: 1280, height: 800 },
  timeout: 60_000,
  handleSIGINT: false, handleSIGTERM: false, handleSIGHUP: false,
  extraPrefsFirefox: { ...FIREFOX_PREFS, 'media.peerconnection.ice.loopback': true },
});
const stop = setTimeout(() => void browser.close().finally(() => process.exit(1)), Number(opt.deadline) * 1000);
const page = (await browser.pages())[0] || (await browser.newPage());
page.on('console', (m) => console.error('console: ' + m.text()));
await page.goto(opt.url);
console.log(JSON.stringify({ ready: true, version: await browser.version() }));
for await (const line of createInterface({ input: process.stdin })) {
  let id = 0;
  try {
    const m = JSON.parse(line);
    id = m.id;
    const value = await page.evaluate(`(async () => (${m.expr}))()`);
    console.log(JSON.stringify({ id, value: value === undefined ? null : value }));
  } catch (e) {
    console.log(JSON.stringify({ id, error: String(e) }));
  }
}
clearTimeout(stop);
await browser.close();
