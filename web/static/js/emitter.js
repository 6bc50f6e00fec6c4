// A tiny typed event emitter. EventTarget would do, but CustomEvent detail
// types are lost in JSDoc; this keeps each event's payload typed.

/**
 * @template {Record<string, any>} Events map of event name to payload type
 */
export class Emitter {
  constructor() {
    /** @type {Map<keyof Events, Set<(payload: any) => void>>} */
    this._handlers = new Map();
  }

  /**
   * Registers fn for an event and returns a function that removes it.
   * @template {keyof Events} K
   * @param {K} name
   * @param {(payload: Events[K]) => void} fn
   * @returns {() => void}
   */
  on(name, fn) {
    let set = this._handlers.get(name);
    if (!set) {
      set = new Set();
      this._handlers.set(name, set);
    }
    set.add(fn);
    return () => set.delete(fn);
  }

  /**
   * Calls every handler of name. One handler throwing does not stop the
   * others: a UI bug must not break the protocol.
   * @template {keyof Events} K
   * @param {K} name
   * @param {Events[K]} payload
   */
  emit(name, payload) {
    const set = this._handlers.get(name);
    if (!set) return;
    for (const fn of [...set]) {
      try {
        fn(payload);
      } catch (err) {
        console.error('meet: handler for', name, 'failed:', err);
      }
    }
  }
}
