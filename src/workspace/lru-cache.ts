/**
 * A map that keeps its most recently used entries within a budget: each value weighs
 * `weigh(value)` (1 unless said otherwise), and once the weights pass `capacity` the least
 * recently used entries go first. A value heavier than the whole budget is not kept.
 *
 * @example
 * ```ts
 * const listings = new LruCache<string, Map<string, TreeEntry>>(200_000, (m) => m.size);
 * const known = listings.get(treeSha) ?? listings.set(treeSha, await walk(treeSha));
 * ```
 */
export class LruCache<K, V> {
  private readonly entries = new Map<K, V>();
  private weight = 0;

  constructor(
    private readonly capacity: number,
    private readonly weigh: (value: V) => number = () => 1,
  ) {}

  /** The value for `key`, now the most recently used; undefined when none is kept. */
  get(key: K): V | undefined {
    const value = this.entries.get(key);
    if (value === undefined) return undefined;
    this.entries.delete(key); // re-inserted last: the most recently used
    this.entries.set(key, value);
    return value;
  }

  /** Keep `value` for `key` as the most recently used (unless it outweighs the budget). */
  set(key: K, value: V): V {
    this.delete(key);
    const weight = this.weigh(value);
    if (weight > this.capacity) return value;
    this.entries.set(key, value);
    this.weight += weight;
    for (const old of this.entries.keys()) {
      if (this.weight <= this.capacity) break;
      this.delete(old);
    }
    return value;
  }

  delete(key: K): void {
    const value = this.entries.get(key);
    if (value === undefined) return;
    this.entries.delete(key);
    this.weight -= this.weigh(value);
  }
}
