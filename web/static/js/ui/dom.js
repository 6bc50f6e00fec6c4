// Small DOM helpers: elements are built in code (never from HTML strings), so no text
// from the network is ever parsed as HTML.

/**
 * @typedef {Record<string, string|boolean|number|((ev: any) => void)|undefined>} Attrs
 * Keys starting with "on" are event listeners; "class", "text" and the rest
 * are attributes; false/undefined leaves an attribute out.
 */

/**
 * Creates an element.
 * @template {keyof HTMLElementTagNameMap} K
 * @param {K} tag
 * @param {Attrs} [attrs]
 * @param {...(Node|string|null|undefined|false)} children
 * @returns {HTMLElementTagNameMap[K]}
 */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === false) continue;
    if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v);
    else if (k === 'text') el.textContent = String(v);
    else el.setAttribute(k, v === true ? '' : String(v));
  }
  for (const c of children) {
    if (c === null || c === undefined || c === false) continue;
    el.append(c);
  }
  return el;
}

/**
 * Replaces everything in parent with the given children.
 * @param {Element} parent
 * @param {...Node} children
 */
export function mount(parent, ...children) {
  parent.replaceChildren(...children);
}

/**
 * Initials for an avatar: first letters of the first two words.
 * @param {string} name
 * @returns {string}
 */
export function initials(name) {
  const words = name.trim().split(/\s+/).filter(Boolean);
  if (words.length === 0) return '?';
  return words.slice(0, 2).map((w) => Array.from(w)[0].toUpperCase()).join('');
}
