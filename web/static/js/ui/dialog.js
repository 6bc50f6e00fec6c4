// A small modal dialog: a title, content and buttons over a dimmed page.
// Focus moves into it and back to where it was when it closes; Escape closes
// it unless it is a choice the user must make.

import { h } from './dom.js';
import { icon } from './icons.js';

/**
 * @typedef {object} Dialog
 * @property {HTMLElement} el
 * @property {() => void} close
 */

/**
 * Opens a dialog.
 * @param {{id: string, title: string, body: (Node|string)[], buttons?: HTMLElement[], dismissable?: boolean, onClose?: () => void}} o
 * @returns {Dialog}
 */
export function openDialog(o) {
  const prev = /** @type {HTMLElement|null} */ (document.activeElement);
  const titleId = o.id + '-title';
  const dismissable = o.dismissable !== false;
  const closeBtn = dismissable ? h('button', { class: 'icon-btn', type: 'button', 'aria-label': 'Close' }, icon('close')) : null;
  const card = h('div', { class: 'dialog', role: 'dialog', 'aria-modal': 'true', 'aria-labelledby': titleId, id: o.id },
    h('header', { class: 'panel-head' }, h('h2', { id: titleId, text: o.title }), closeBtn),
    h('div', { class: 'dialog-body' }, ...o.body),
    o.buttons && o.buttons.length ? h('div', { class: 'row dialog-buttons' }, ...o.buttons) : null);
  const el = h('div', { class: 'backdrop' }, card);
  let open = true;
  const close = () => {
    if (!open) return;
    open = false;
    el.remove();
    document.removeEventListener('keydown', onKey, true);
    if (prev && prev.isConnected) prev.focus({ preventScroll: true });
    if (o.onClose) o.onClose();
  };
  /** @param {KeyboardEvent} ev */
  const onKey = (ev) => {
    if (ev.key === 'Escape' && dismissable) {
      ev.stopPropagation();
      close();
    }
  };
  if (closeBtn) closeBtn.addEventListener('click', close);
  if (dismissable) el.addEventListener('click', (ev) => { if (ev.target === el) close(); });
  document.addEventListener('keydown', onKey, true);
  document.body.append(el);
  const first = /** @type {HTMLElement|null} */ (card.querySelector('button.btn, select, input, button'));
  if (first) first.focus({ preventScroll: true });
  return { el, close };
}
