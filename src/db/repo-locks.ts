/**
 * The per-repository ship lock: merge, test and compare-and-swap of one repository's base branch
 * run one at a time across every `loopwright run` process on the database, so parallel workers
 * never race each other's merges (the CAS still guards against anyone else moving the base).
 *
 * A session-level advisory lock on a connection reserved for the holder; waiting callers poll with
 * `pg_try_advisory_lock` and hold no connection while they wait (the pool stays available). If the
 * holder's connection dies, the lock is released with it — correctness never depends on the lock.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { sql } from 'kysely';
import type { Kdb } from './connection.js';

/** "lwsh": the class of every repository's ship lock (two-key advisory locks). */
const SHIP_LOCK_CLASS = 0x6c777368;

/** Options for {@link withRepoLock}. */
export interface RepoLockOptions {
  /** Pause between attempts while another holder has the lock (default 200 ms). */
  readonly pollMs?: number;
  /** Called once when the caller has to wait (for a log line). */
  readonly onWait?: () => void;
}

/**
 * Run `fn` while holding repository `repoId`'s ship lock; waits (polling) while another process
 * or job holds it.
 *
 * @example
 * ```ts
 * const merged = await withRepoLock(db, repo.id, () => mergeToBase({ ... }));
 * ```
 */
export async function withRepoLock<T>(
  db: Kdb,
  repoId: string,
  fn: () => Promise<T>,
  options: RepoLockOptions = {},
): Promise<T> {
  let waited = false;
  for (;;) {
    const outcome = await db.connection().execute(async (conn) => {
      const { rows } = await sql<{ locked: boolean }>`
        select pg_try_advisory_lock(${SHIP_LOCK_CLASS}, hashtext(${repoId})) as locked`.execute(
        conn,
      );
      if (!rows[0]?.locked) return { held: false } as const;
      try {
        return { held: true, value: await fn() } as const;
      } finally {
        await sql`select pg_advisory_unlock(${SHIP_LOCK_CLASS}, hashtext(${repoId}))`
          .execute(conn)
          .catch(() => undefined);
      }
    });
    if (outcome.held) return outcome.value;
    if (!waited) options.onWait?.();
    waited = true;
    await sleep(options.pollMs ?? 200);
  }
}
