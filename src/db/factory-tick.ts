/**
 * The factory's periodic statement: one round trip that beats this pool's heartbeat and reads
 * everything the quiet-time checks need (other pools that may be dead, job locks nobody claims,
 * this pool's own old locks, when the next delayed job falls due, whether any repository uses an
 * integration). The sweeper's transaction runs only when this says there may be something to
 * sweep.
 */
import { sql } from 'kysely';
import type { Kdb } from './connection.js';
import type { PoolRow } from './pools.js';

/** One lock of a job (graphile-worker counts an attempt per lock, so the pair names the lock). */
export interface JobLock {
  readonly id: string;
  readonly attempts: number;
}

export interface TickReading {
  /** Unstopped pools other than this one, with seconds since their heartbeat. */
  readonly pools: readonly (PoolRow & { readonly silentSeconds: number })[];
  /**
   * Jobs locked longer than the stale period under this pool's worker ids (its long runs, and any
   * lock a lost `get_job` answer left behind).
   */
  readonly ownLocks: readonly JobLock[];
  /** Some job is locked longer than the stale period by a worker id no running pool claims. */
  readonly unclaimedLocks: boolean;
  /** Seconds until the earliest delayed job is due (null: none waits). */
  readonly nextJobInSeconds: number | null;
  /** Some repository has GitHub or Linear settings. */
  readonly integrations: boolean;
}

/**
 * Beat and look, in one statement (autocommit: one transaction).
 *
 * @example
 * ```ts
 * const reading = await beatAndRead(db, poolId, 30);
 * if (reading.unclaimedLocks) await sweepDeadPools(db, poolId, 30, logger);
 * ```
 */
export async function beatAndRead(
  db: Kdb,
  poolId: string,
  staleSeconds: number,
): Promise<TickReading> {
  // A pool another's sweeper retired while it was cut off is alive after all: un-retired.
  const { rows } = await sql<TickReading>`
    with beat as (
      update loopwright.pools set heartbeat_at = now(), stopped_at = null
      where id = ${poolId}::uuid returning id
    )
    select
      (select coalesce(json_agg(json_build_object(
          'id', p.id, 'host', p.host, 'pid', p.pid, 'concurrency', p.concurrency,
          'process_started_at', p.process_started_at, 'worker_ids', p.worker_ids,
          'silentSeconds', extract(epoch from now() - p.heartbeat_at)::float8)), '[]'::json)
        from loopwright.pools p
        where p.stopped_at is null and p.id <> ${poolId}::uuid) as pools,
      (select coalesce(json_agg(json_build_object('id', j.id::text, 'attempts', j.attempts)),
          '[]'::json)
        from graphile_worker._private_jobs j
        where j.locked_by in (
            select unnest(worker_ids) from loopwright.pools where id = ${poolId}::uuid)
          and j.locked_at < now() - make_interval(secs => ${staleSeconds})) as "ownLocks",
      exists (
        select 1 from graphile_worker.jobs j
        where j.locked_by is not null
          and j.locked_at < now() - make_interval(secs => ${staleSeconds})
          and not exists (select 1 from loopwright.pools p
            where p.stopped_at is null and j.locked_by = any(p.worker_ids))
      ) as "unclaimedLocks",
      (${nextJobSeconds}) as "nextJobInSeconds",
      exists (
        select 1 from loopwright.repositories r
        where r.removed_at is null and (r.settings ? 'github' or r.settings ? 'linear')
      ) as integrations,
      (select count(*) from beat) as beats`.execute(db);
  return rows[0]!;
}

const nextJobSeconds = sql<number | null>`
  select extract(epoch from min(run_at) - now())::float8 from graphile_worker.jobs
  where locked_at is null and run_at > now() and attempts < max_attempts`;

/** Seconds until the earliest delayed job is due (null: none waits). */
export async function secondsToNextJob(db: Kdb): Promise<number | null> {
  const { rows } = await sql<{ s: number | null }>`select (${nextJobSeconds}) as s`.execute(db);
  return rows[0]?.s ?? null;
}

/**
 * Wake every graphile-worker runner on this database (they LISTEN on `jobs:insert`): a delayed
 * job fell due, which Postgres does not announce by itself.
 */
export async function nudgeWorkers(db: Kdb): Promise<void> {
  await sql`select pg_notify('jobs:insert', '{"count":1}')`.execute(db);
}
