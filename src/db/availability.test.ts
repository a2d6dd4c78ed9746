import { describe, expect, it } from 'vitest';
import { isTransientDbError, retryTransient } from './availability.js';

/** What pg throws when its backend is terminated mid-query. */
const terminated = () => new Error('Connection terminated unexpectedly');

describe('retryTransient', () => {
  it('repeats a write while the database is away, then returns its result', async () => {
    let calls = 0;
    const result = await retryTransient(async () => {
      calls++;
      if (calls < 3) throw terminated();
      return 'written';
    });
    expect(result).toBe('written');
    expect(calls).toBe(3);
  });

  it('throws a non-transient error at once', async () => {
    let calls = 0;
    const bad = Object.assign(new Error('null value violates not-null'), { code: '23502' });
    await expect(
      retryTransient(async () => {
        calls++;
        throw bad;
      }),
    ).rejects.toBe(bad);
    expect(calls).toBe(1);
  });

  it('gives up after its tries with the last transient error', async () => {
    let calls = 0;
    await expect(
      retryTransient(async () => {
        calls++;
        throw terminated();
      }, 2),
    ).rejects.toThrow('Connection terminated unexpectedly');
    expect(calls).toBe(2);
    expect(isTransientDbError(terminated())).toBe(true);
  });
});
