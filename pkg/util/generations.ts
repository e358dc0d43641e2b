// generations: a bounded interning map — values by key in two generations, so keys met again stay and the rest fade out.

/**
 * Generations keeps one value per key in two generations. Once the young one holds `limit` keys the old one is
 * dropped and the young one becomes old; a key found in the old generation moves back into the young. So a key met
 * again within every generation stays, and one met once is gone after two: the map never holds more than 2 × limit.
 */
export class Generations<V> {
  #young = new Map<string, V>();
  #old = new Map<string, V>();
  readonly #limit: number;

  constructor(limit: number) {
    this.#limit = limit;
  }

  get size(): number {
    return this.#young.size + this.#old.size;
  }

  /** intern returns the value kept for `key`, keeping `value` when there is none (check `=== value` to know which). */
  intern(key: string, value: V): V {
    let p = this.#young.get(key);
    if (p !== undefined) return p;
    p = this.#old.get(key) ?? value;
    if (this.#young.size >= this.#limit) {
      this.#old = this.#young;
      this.#young = new Map();
    }
    this.#young.set(key, p);
    return p;
  }
}
