// Keyboard shortcuts of the call screen. The mapping is data, so the help
// overlay lists exactly what the handler does.

/**
 * @typedef {'mic'|'camera'|'screen'|'hand'|'chat'|'people'|'layout'|'leave'|'help'|'settings'} Action
 */

/** @type {{keys: string, action: Action, what: string}[]} */
export const SHORTCUTS = [
  { keys: 'M', action: 'mic', what: 'Mute or unmute the microphone' },
  { keys: 'V', action: 'camera', what: 'Turn the camera off or on' },
  { keys: 'S', action: 'screen', what: 'Share the screen or stop sharing' },
  { keys: 'H', action: 'hand', what: 'Raise or lower your hand' },
  { keys: 'C', action: 'chat', what: 'Open or close the chat' },
  { keys: 'P', action: 'people', what: 'Open or close the participant list' },
  { keys: 'G', action: 'layout', what: 'Switch between grid and speaker view' },
  { keys: 'D', action: 'settings', what: 'Devices and noise suppression' },
  { keys: 'Shift+L', action: 'leave', what: 'Leave the meeting' },
  { keys: '?', action: 'help', what: 'Show or hide this help' },
];

/**
 * The action of a key press, or '' when it is not a shortcut here (typing
 * in a field, or a modifier the browser or OS uses).
 * @param {{key: string, shiftKey: boolean, ctrlKey: boolean, metaKey: boolean, altKey: boolean, target: EventTarget|null}} ev
 * @returns {Action|''}
 */
export function shortcutFor(ev) {
  if (ev.ctrlKey || ev.metaKey || ev.altKey) return '';
  const t = /** @type {any} */ (ev.target);
  if (t && (t.isContentEditable || ['INPUT', 'TEXTAREA', 'SELECT'].includes(t.tagName))) return '';
  if (ev.key === '?') return 'help';
  const k = ev.key.length === 1 ? ev.key.toUpperCase() : '';
  if (ev.shiftKey) return k === 'L' ? 'leave' : '';
  for (const s of SHORTCUTS) if (s.keys === k) return s.action;
  return '';
}
