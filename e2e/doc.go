// Package e2e holds the browser end-to-end tests of MonkeyThorn Meet: real
// Chromium tabs (driven with chromedp, fake camera and microphone) load the
// web client from a server started in the test process and join calls
// through the real SFU on 127.0.0.1.
//
// The tests need /usr/bin/chromium ("make test" installs it). Set
// MEET_SKIP_BROWSER=1 to skip them on a machine without it, and
// MEET_SCREENSHOT_DIR to a folder to have them save screenshots there.
package e2e
