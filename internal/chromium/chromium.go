// Package chromium starts the headless Debian Chromium the browser tests
// drive with chromedp, with the flags every one of them needs.
package chromium

import (
	"fmt"

	"github.com/chromedp/chromedp"
)

// Path is where Debian's chromium package installs the browser.
const Path = "/usr/bin/chromium"

// flag is one command-line switch; value is true for a bare switch.
type flag struct {
	name  string
	value any
}

// flags are those of a headless, fake-media Chromium: no sandbox (tests
// run as root), fake camera and microphone without prompts, no calls home,
// loopback ICE candidates allowed, and autoplay without a gesture (pages
// measure the audio they receive).
func flags() []flag {
	return []flag{
		{"headless", true},
		{"no-sandbox", true},
		{"use-fake-device-for-media-stream", true},
		{"use-fake-ui-for-media-stream", true},
		{"disable-background-networking", true},
		{"disable-component-update", true},
		{"disable-sync", true},
		{"no-first-run", true},
		{"allow-loopback-in-peer-connection", true},
		{"disable-gpu", true},
		{"autoplay-policy", "no-user-gesture-required"},
	}
}

// Options are the allocator options of that Chromium with a fresh profile
// in userDataDir.
func Options(userDataDir string) []chromedp.ExecAllocatorOption {
	opts := []chromedp.ExecAllocatorOption{chromedp.ExecPath(Path), chromedp.UserDataDir(userDataDir)}
	for _, f := range flags() {
		opts = append(opts, chromedp.Flag(f.name, f.value))
	}
	return opts
}

// Args are the same flags as a command line, for a Chromium a test starts
// itself (for example inside a network namespace) and reaches through its
// DevTools port; extra switches ("--name=value") follow.
func Args(userDataDir string, extra ...string) []string {
	args := []string{"--user-data-dir=" + userDataDir}
	for _, f := range flags() {
		if f.value == true {
			args = append(args, "--"+f.name)
		} else {
			args = append(args, fmt.Sprintf("--%s=%v", f.name, f.value))
		}
	}
	return append(args, extra...)
}
