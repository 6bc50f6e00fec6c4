// Short notices at the bottom of the screen ("Link copied", network trouble).

import { h } from './dom.js';

/**
 * Shows text for a few seconds in the page's toast area.
 * @param {string} text
 * @param {number} [ms]
 */
export function toast(text, ms = 4000) {
  let area = document.getElementById('toasts');
  if (!area) {
    area = h('div', { id: 'toasts', class: 'toasts', role: 'status', 'aria-live': 'polite' });
    document.body.append(area);
  }
  const el = h('div', { class: 'toast', text });
  area.append(el);
  setTimeout(() => el.remove(), ms);
}
