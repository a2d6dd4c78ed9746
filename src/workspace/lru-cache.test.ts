import { describe, expect, it } from 'vitest';
import { LruCache } from './lru-cache.js';

describe('LruCache', () => {
  it('drops the least recently used once the weights pass the budget', () => {
    const cache = new LruCache<string, string>(5, (v) => v.length);
    cache.set('a', 'aa');
    cache.set('b', 'bb');
    expect(cache.get('a')).toBe('aa'); // now the most recently used
    cache.set('c', 'cc'); // 6 > 5: b goes, not a
    expect([cache.get('a'), cache.get('b'), cache.get('c')]).toEqual(['aa', undefined, 'cc']);
  });

  it('replaces a key without counting it twice, and keeps nothing heavier than the budget', () => {
    const cache = new LruCache<string, string>(4, (v) => v.length);
    expect(cache.set('a', 'xxxx')).toBe('xxxx');
    cache.set('a', 'yyyy'); // the same key again: still within 4
    expect(cache.get('a')).toBe('yyyy');
    expect(cache.set('big', 'zzzzz')).toBe('zzzzz'); // returned, not kept
    expect([cache.get('big'), cache.get('a')]).toEqual([undefined, 'yyyy']);
  });

  it('counts entries when no weight is given', () => {
    const cache = new LruCache<number, number>(2);
    for (const n of [1, 2, 3]) cache.set(n, n * 10);
    expect([cache.get(1), cache.get(2), cache.get(3)]).toEqual([undefined, 20, 30]);
  });
});
