// Line icons drawn as inline SVG elements (built with the DOM, so the CSP
// needs no exception). Paths are our own, on a 24×24 grid.

const NS = 'http://www.w3.org/2000/svg';

/** @type {Record<string, string[]>} */
const PATHS = {
  mic: ['M12 3a3 3 0 0 0-3 3v6a3 3 0 0 0 6 0V6a3 3 0 0 0-3-3z', 'M5 11a7 7 0 0 0 14 0', 'M12 18v3'],
  micOff: ['M9 6a3 3 0 0 1 6 0v4', 'M15 13.5A3 3 0 0 1 9 12V9', 'M5 11a7 7 0 0 0 11.5 5.3', 'M19 11a7 7 0 0 1-.7 3', 'M12 18v3', 'M3 3l18 18'],
  cam: ['M3 7h12a1 1 0 0 1 1 1v8a1 1 0 0 1-1 1H3a1 1 0 0 1-1-1V8a1 1 0 0 1 1-1z', 'M16 10.5l5-3v9l-5-3'],
  camOff: ['M9 7h6a1 1 0 0 1 1 1v5', 'M16 10.5l5-3v9l-5-3', 'M13 17H3a1 1 0 0 1-1-1V8a1 1 0 0 1 1-1h1', 'M3 3l18 18'],
  chat: ['M4 5h16v11H9l-5 4z'],
  link: ['M10 14a4 4 0 0 0 5.7 0l3-3a4 4 0 0 0-5.7-5.7l-1 1', 'M14 10a4 4 0 0 0-5.7 0l-3 3a4 4 0 0 0 5.7 5.7l1-1'],
  leave: ['M3 14c5-4.5 13-4.5 18 0l-2.5 2.5-3-1.5v-3c-2.3-.7-4.7-.7-7 0v3l-3 1.5z'],
  lock: ['M6 11h12v9H6z', 'M8.5 11V8a3.5 3.5 0 0 1 7 0v3'],
  lockBroken: ['M6 11h12v9H6z', 'M8.5 11V8a3.5 3.5 0 0 1 6.6-1.6', 'M12 14v3'],
  unlock: ['M6 11h12v9H6z', 'M8.5 11V8a3.5 3.5 0 0 1 6.8-1.2'],
  send: ['M4 12l16-8-6 16-2.5-6.5z', 'M11.5 13.5L20 4'],
  close: ['M6 6l12 12', 'M18 6L6 18'],
  users: ['M9 11a3.5 3.5 0 1 0 0-7 3.5 3.5 0 0 0 0 7z', 'M2.5 20a6.5 6.5 0 0 1 13 0', 'M16 4.3a3.5 3.5 0 0 1 0 6.4', 'M18 14a6.5 6.5 0 0 1 3.5 6'],
  plus: ['M12 5v14', 'M5 12h14'],
};

/**
 * @param {string} name one of the icon names above
 * @returns {SVGSVGElement}
 */
export function icon(name) {
  const svg = document.createElementNS(NS, 'svg');
  svg.setAttribute('viewBox', '0 0 24 24');
  svg.setAttribute('aria-hidden', 'true');
  svg.setAttribute('class', 'icon');
  for (const d of PATHS[name] || []) {
    const p = document.createElementNS(NS, 'path');
    p.setAttribute('d', d);
    svg.append(p);
  }
  return svg;
}
