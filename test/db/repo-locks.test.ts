/**
 * The ship lock: jobs of one process take turns in order, and a holder on another connection pool
 * (another `run` process) is waited for through the advisory lock.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect } from '../../src/db/connection.js';
import { withRepoLock } from '../../src/db/repo-locks.js';
import { createTestDb, type TestDb } from '../helpers/db.js';

let t: TestDb;
beforeAll(async () => {
  t = await createTestDb();
});
afterAll(async () => {
  await t.drop();
});

/** Runs `holders` holders at once and records the order and the most ever inside together. */
async function contend(holders: readonly (() => ReturnType<typeof withRepoLock>)[]) {
  return Promise.all(holders.map((h) => h()));
}

describe('withRepoLock', () => {
  it('lets the jobs of one process in one at a time, in the order they asked', async () => {
    let inside = 0;
    let most = 0;
    const order: number[] = [];
    const holder = (i: number) => () =>
      withRepoLock(t.db, 'repo-a', async () => {
        inside++;
        most = Math.max(most, inside);
        await sleep(20);
        order.push(i);
        inside--;
        return i;
      });
    const results = await contend([0, 1, 2, 3, 4].map(holder));
    expect(results).toEqual([0, 1, 2, 3, 4]);
    expect(order).toEqual([0, 1, 2, 3, 4]);
    expect(most).toBe(1);
  });

  it('passes the turn on when a holder throws', async () => {
    const failing = withRepoLock(t.db, 'repo-b', async () => {
      throw new Error('merge failed');
    });
    const next = withRepoLock(t.db, 'repo-b', async () => 'shipped');
    await expect(failing).rejects.toThrow('merge failed');
    await expect(next).resolves.toBe('shipped');
  });

  it('waits for a holder in another process (another pool) through the advisory lock', async () => {
    const other = connect({ url: t.url, source: 'DATABASE_URL' }, 2);
    try {
      let inside = 0;
      let most = 0;
      const holder = (db: typeof t.db) => () =>
        withRepoLock(db, 'repo-c', async () => {
          inside++;
          most = Math.max(most, inside);
          await sleep(50);
          inside--;
        });
      await contend([holder(t.db), holder(other.db), holder(t.db), holder(other.db)]);
      expect(most).toBe(1);
    } finally {
      await other.close();
    }
  });
});
