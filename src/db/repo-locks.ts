/**
 * The per-repository ship lock: merge, test and compare-and-swap of one repository's base branch
 * run one at a time across every `loopwright run` process on the database, so parallel workers
 * never race each other's merges (the CAS still guards against anyone else moving the base).
 *
 * A session-level advisory lock on a connection reserved for the holder; callers in the same
 * process take turns in a queue (the next starts as soon as the holder lets go), and a holder in
 * another process is waited for by polling `pg_try_advisory_lock` (25 ms, doubling to 200 ms),
 * holding no connection while waiting (the pool stays available). If the
 * holder's connection dies, the lock is released with it — correctness never depends on the lock.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { sql } from 'kysely';
import type { Kdb } from './connection.js';

/** "lwsh": the class of every repository's ship lock (two-key advisory locks). */
const SHIP_LOCK_CLASS = 0x6c777368;

/** Options for {@link withRepoLock}. */
export interface RepoLockOptions {
  /**
   * Longest pause between attempts while another process holds the lock (default 200 ms; the
   * first is 25 ms, doubling). Jobs of the same process do not poll: they take turns.
   */
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
  // Jobs of this process queue here and take over the moment the previous one lets go; only a
  // holder in another process is waited for by polling.
  const queue = localQueues(db);
  const before = queue.get(repoId);
  const queued = before !== undefined;
  let release = () => {};
  const mine = new Promise<void>((resolve) => {
    release = resolve;
  });
  const tail = (before ?? Promise.resolve()).then(() => mine);
  queue.set(repoId, tail);
  try {
    if (queued) {
      options.onWait?.();
      await before;
    }
    return await lockAndRun(db, repoId, fn, {
      ...options,
      ...(queued ? { onWait: () => {} } : {}),
    });
  } finally {
    release();
    if (queue.get(repoId) === tail) queue.delete(repoId);
  }
}

/** Per database handle: repository id -> the last local holder's or waiter's turn. */
const LOCAL_QUEUES = new WeakMap<Kdb, Map<string, Promise<void>>>();

function localQueues(db: Kdb): Map<string, Promise<void>> {
  let queue = LOCAL_QUEUES.get(db);
  if (!queue) LOCAL_QUEUES.set(db, (queue = new Map()));
  return queue;
}

/** First pause while another process holds the lock; doubled up to `pollMs`. */
const FIRST_POLL_MS = 25;

async function lockAndRun<T>(
  db: Kdb,
  repoId: string,
  fn: () => Promise<T>,
  options: RepoLockOptions,
): Promise<T> {
  let waited = false;
  let pause = FIRST_POLL_MS;
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
    await sleep(Math.min(pause, options.pollMs ?? 200));
    pause *= 2;
  }
}
