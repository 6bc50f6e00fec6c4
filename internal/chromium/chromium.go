// Package chromium starts the headless Debian Chromium the browser tests
// drive with chromedp, with the flags every one of them needs.
package chromium

import "github.com/chromedp/chromedp"

// Path is where Debian's chromium package installs the browser.
const Path = "/usr/bin/chromium"

// Options are the allocator options of a headless, fake-media Chromium with
// a fresh profile in userDataDir: no sandbox (tests run as root), fake
// camera and microphone without prompts, no calls home, loopback ICE
// candidates allowed, and autoplay without a gesture (pages measure the
// audio they receive).
func Options(userDataDir string) []chromedp.ExecAllocatorOption {
	return []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(Path),
		chromedp.UserDataDir(userDataDir),
		chromedp.Flag("headless", true),
		chromedp.Flag("no-sandbox", true),
		chromedp.Flag("use-fake-device-for-media-stream", true),
		chromedp.Flag("use-fake-ui-for-media-stream", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("no-first-run", true),
		chromedp.Flag("allow-loopback-in-peer-connection", true),
		chromedp.Flag("disable-gpu", true),
		chromedp.Flag("autoplay-policy", "no-user-gesture-required"),
	}
}
