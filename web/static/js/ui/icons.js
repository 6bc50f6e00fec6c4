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
  screen: ['M3 5h18v11H3z', 'M8 20h8', 'M12 16v4', 'M12 13V8', 'M9.5 10.5L12 8l2.5 2.5'],
  screenStop: ['M3 5h18v11H3z', 'M8 20h8', 'M12 16v4', 'M9.5 8.5l5 5', 'M14.5 8.5l-5 5'],
  pin: ['M9 4h6l-1 6 3 3H7l3-3z', 'M12 13v7'],
  grid: ['M4 4h7v7H4z', 'M13 4h7v7h-7z', 'M4 13h7v7H4z', 'M13 13h7v7h-7z'],
  speaker: ['M3 4h18v11H3z', 'M3 18h5', 'M10 18h4', 'M16 18h5'],
  settings: ['M12 15a3 3 0 1 0 0-6 3 3 0 0 0 0 6z', 'M12 2v3', 'M12 19v3', 'M4.2 4.2l2.1 2.1', 'M17.7 17.7l2.1 2.1', 'M2 12h3', 'M19 12h3', 'M4.2 19.8l2.1-2.1', 'M17.7 6.3l2.1-2.1'],
  help: ['M12 21a9 9 0 1 0 0-18 9 9 0 0 0 0 18z', 'M9.5 9.5a2.5 2.5 0 1 1 3.5 2.3c-.6.3-1 .9-1 1.6v.6', 'M12 17.5v.01'],
  wave: ['M3 12h2', 'M7 8v8', 'M11 5v14', 'M15 8v8', 'M19 11v2'],
  hand: ['M8 13V5.5a1.5 1.5 0 0 1 3 0V11', 'M11 10V4.5a1.5 1.5 0 0 1 3 0V11', 'M14 10.5V6a1.5 1.5 0 0 1 3 0v7c0 4-2.5 7-6 7-2.5 0-4-1.2-5.2-3L3.5 13.2a1.5 1.5 0 0 1 2.4-1.8L8 14'],
  crown: ['M4 19h16', 'M4 16l-1-9 5 4 4-6 4 6 5-4-1 9z'],
  userRemove: ['M9 11a3.5 3.5 0 1 0 0-7 3.5 3.5 0 0 0 0 7z', 'M2.5 20a6.5 6.5 0 0 1 13 0', 'M17 8l4 4', 'M21 8l-4 4'],
  door: ['M5 21V4h10v17', 'M3 21h18', 'M12 12.5v.01', 'M15 6h4v15'],
  volume: ['M4 9h4l5-4v14l-5-4H4z', 'M16 9a4 4 0 0 1 0 6', 'M18.5 6.5a8 8 0 0 1 0 11'],
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
