// Which tile goes where: the adaptive grid's shape, and the choice of the
// one tile on the main stage (a pinned tile, else a shared screen, else the
// active speaker in speaker view). Pure functions, tested under node
// (web/test/layout.test.js); the DOM side is ui/callview.js.

/** Space between tiles in pixels, as in app.css. */
export const GAP = 10;

/**
 * Grid shape for n 16:9 tiles in a w×h area: the column count that makes
 * the tiles largest, and their size.
 * @param {number} n
 * @param {number} w
 * @param {number} hgt
 * @returns {{cols: number, rows: number, tileW: number, tileH: number}}
 */
export function gridShape(n, w, hgt) {
  let best = { cols: 1, rows: 1, tileW: 0, tileH: 0 };
  for (let cols = 1; cols <= Math.max(1, n); cols++) {
    const rows = Math.ceil(n / cols);
    const tileW = Math.floor(Math.min((w - (cols - 1) * GAP) / cols, ((hgt - (rows - 1) * GAP) / rows) * 16 / 9));
    if (tileW > best.tileW) best = { cols, rows, tileW, tileH: Math.floor((tileW * 9) / 16) };
  }
  return best;
}

/**
 * One tile as the layout sees it.
 * @typedef {object} TileInfo
 * @property {string} key "self", a participant id, or "<id>:screen"
 * @property {string} id participant id
 * @property {boolean} self
 * @property {boolean} screen a shared screen rather than a camera
 */

/**
 * @typedef {object} LayoutChoice
 * @property {'grid'|'stage'} mode
 * @property {string} stage key of the tile on the stage ('' in grid mode)
 */

/**
 * Picks the stage tile. A pin wins while its tile exists; then the most
 * recent shared screen (someone else's before our own, which we know
 * already); then, in speaker view, the active speaker's camera (never our
 * own: people do not need to watch themselves large).
 * @param {TileInfo[]} tiles in the order they appeared
 * @param {{pinned: string, view: 'grid'|'speaker', speaker: string}} o
 * @returns {LayoutChoice}
 */
export function chooseLayout(tiles, o) {
  if (o.pinned && tiles.some((t) => t.key === o.pinned)) return { mode: 'stage', stage: o.pinned };
  const screens = tiles.filter((t) => t.screen);
  const remote = screens.filter((t) => !t.self);
  const screen = remote.length ? remote[remote.length - 1] : screens[screens.length - 1];
  if (screen) return { mode: 'stage', stage: screen.key };
  if (o.view === 'speaker') {
    const others = tiles.filter((t) => !t.self && !t.screen);
    const spk = others.find((t) => t.id === o.speaker) || others[0];
    if (spk) return { mode: 'stage', stage: spk.key };
  }
  return { mode: 'grid', stage: '' };
}
