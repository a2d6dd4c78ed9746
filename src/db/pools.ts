/**
 * Orchestrator processes (`loopwright run`): registration, heartbeat, and finding dead ones.
 */
import { sql } from 'kysely';
import type { Kdb } from './connection.js';

export interface PoolRow {
  readonly id: string;
  readonly host: string;
  readonly pid: number;
  readonly concurrency: number;
  readonly process_started_at: string | null;
  readonly worker_ids?: readonly string[];
}

export async function registerPool(
  db: Kdb,
  pool: Omit<PoolRow, 'worker_ids'> & { version: string },
): Promise<void> {
  await db.insertInto('loopwright.pools').values(pool).execute();
}

/**
 * Beat. A pool that another's sweeper retired while it was cut off (a partition longer than the
 * stale period) is alive after all: it is un-retired, so its worker ids are claimed again.
 */
export async function heartbeatPool(db: Kdb, id: string): Promise<void> {
  await db
    .updateTable('loopwright.pools')
    .set({ heartbeat_at: sql`now()`, stopped_at: null })
    .where('id', '=', id)
    .execute();
}

export async function stopPool(db: Kdb, id: string): Promise<void> {
  await db
    .updateTable('loopwright.pools')
    .set({ stopped_at: sql`now()` })
    .where('id', '=', id)
    .where('stopped_at', 'is', null)
    .execute();
}

/**
 * Pools not stopped cleanly: candidates for the sweeper, with seconds since their last heartbeat.
 */
export async function unstoppedPools(
  db: Kdb,
  exceptId: string,
): Promise<(PoolRow & { silentSeconds: number })[]> {
  const rows = await db
    .selectFrom('loopwright.pools')
    .select([
      'id',
      'host',
      'pid',
      'concurrency',
      'process_started_at',
      'worker_ids',
      sql<number>`extract(epoch from now() - heartbeat_at)::float8`.as('silentSeconds'),
    ])
    .where('stopped_at', 'is', null)
    .where('id', '!=', exceptId)
    .execute();
  return rows;
}

/** Record the graphile-worker pool id this process locks jobs with. */
export async function addWorkerId(db: Kdb, id: string, workerId: string): Promise<void> {
  await db
    .updateTable('loopwright.pools')
    .set({ worker_ids: sql`array_append(worker_ids, ${workerId})` })
    .where('id', '=', id)
    .execute();
}

/**
 * Lock holders nobody alive claims: jobs locked longer than `staleSeconds` by a worker id that no
 * running pool has registered (a process that died before registering, or a foreign worker).
 */
export async function unclaimedLockHolders(db: Kdb, staleSeconds: number): Promise<string[]> {
  const { rows } = await sql<{ locked_by: string }>`
    select distinct locked_by from graphile_worker.jobs
    where locked_by is not null and locked_at < now() - make_interval(secs => ${staleSeconds})
      and not exists (select 1 from loopwright.pools p where p.stopped_at is null
        and jobs.locked_by = any(p.worker_ids))`.execute(db);
  return rows.map((r) => r.locked_by);
}
