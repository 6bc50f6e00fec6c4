// Firefox prefs every browser test's Firefox needs.
export const FIREFOX_PREFS = {
  // A generated camera and microphone, and no permission prompt.
  'media.navigator.streams.fake': true,
  'media.navigator.permission.disabled': true,
  // Remote audio plays without a click, as in the Chromium tab.
  'media.autoplay.default': 0,
  'media.autoplay.blocking_policy': 0,
  // Plain host candidates (no mDNS names): the namespace has no resolver.
  'media.peerconnection.ice.obfuscate_host_addresses': false,
};
