/**
 * The sweeper: finds orchestrator pools that died (heartbeat stale, or — on this host — their
 * process is gone or its pid was reused), hands their locked jobs back with
 * `graphile_worker.force_unlock_workers` (otherwise graphile-worker holds them for 4 hours), kills
 * their orphaned agent process groups on this host (pid + start time, so a reused pid is safe) and
 * marks their runs failed. The jobs then run again and their tickets carry on; an agent run that
 * died with its pool is re-dispatched under a fresh run id (a REPLAY, as `loopwright replay` would
 * issue), so the failed run keeps its own row, pids and transcript. One sweeper at a time across
 * all processes (advisory lock).
 */
import os from 'node:os';
import { sql } from 'kysely';
import type { Logger } from 'pino';
import { processStartTime, reapOrphans, reapUnrecordedRun } from '../agents/reap.js';
import type { Kdb } from '../db/connection.js';
import { stopPool, unclaimedLockHolders, unstoppedPools, type PoolRow } from '../db/pools.js';
import { runningRunsOf, type AgentRun } from '../db/runs.js';
import { inTransaction } from '../engine/transaction.js';
import { redispatchRun } from '../engine/redispatch.js';

/** "lw" + "swp": the sweeper's advisory lock. */
const SWEEP_LOCK_KEY = 0x6c77737770;

export interface SweepResult {
  readonly deadPools: readonly string[];
  readonly reapedGroups: number;
}

export interface SweepOptions {
  /**
   * Whether a silent heartbeat alone makes a pool dead (default true). The factory turns it off
   * for a while after its own outage; a Postgres restart younger than `staleSeconds` turns it off
   * too — every pool was silent then, none is dead for that. A pool whose process is gone (on
   * this host) is dead either way.
   */
  readonly silenceCounts?: boolean;
}

export async function sweepDeadPools(
  db: Kdb,
  selfId: string,
  staleSeconds: number,
  logger: Logger,
  options: SweepOptions = {},
): Promise<SweepResult> {
  return inTransaction(db, async (trx) => {
    const { rows } = await sql<{
      locked: boolean;
    }>`select pg_try_advisory_xact_lock(${SWEEP_LOCK_KEY}) as locked`.execute(trx);
    if (!rows[0]?.locked) return { deadPools: [], reapedGroups: 0 };
    const silence =
      options.silenceCounts !== false && (await serverUptimeSeconds(trx)) > staleSeconds;
    const dead = (await unstoppedPools(trx, selfId)).filter(
      (p) => (silence && p.silentSeconds > staleSeconds) || diedOnThisHost(p),
    );
    const unclaimed = silence ? await unclaimedLockHolders(trx, staleSeconds) : [];
    if (dead.length === 0 && unclaimed.length === 0) return { deadPools: [], reapedGroups: 0 };
    const workerIds = [...dead.flatMap((p) => p.worker_ids ?? []), ...unclaimed];
    await sql`select graphile_worker.force_unlock_workers(${workerIds}::text[])`.execute(trx);
    const runs = await runningRunsOf(
      trx,
      dead.map((p) => p.id),
    );
    const local = runs.filter((r) => r.host === os.hostname());
    const recorded = local.filter((r) => r.pid && r.pgid && r.process_started_at);
    const reaped = reapOrphans(
      recorded.map((r) => ({
        pid: r.pid!,
        pgid: r.pgid!,
        startTime: r.process_started_at!,
        ...(r.process_tag ? { tag: r.process_tag } : {}),
      })),
    );
    // A run whose pool died between spawning its agent and recording the pid names no process:
    // its processes are found by the run id in their tag.
    const unrecorded = local
      .filter((r) => !r.pid)
      .filter((r) => reapUnrecordedRun(r.id) > 0).length;
    await trx
      .updateTable('loopwright.agent_runs')
      .set({ status: 'failed', error: 'orchestrator pool died', finished_at: new Date() })
      .where(
        'id',
        'in',
        runs.length ? runs.map((r) => r.id) : ['00000000-0000-0000-0000-000000000000'],
      )
      .execute();
    const redispatched = await redispatchRuns(trx, runs, selfId);
    for (const pool of dead) await stopPool(trx, pool.id);
    logger.warn(
      {
        pools: dead.map((p) => p.id),
        jobsUnlockedFor: workerIds.length,
        reaped: reaped.killed.length + unrecorded,
        redispatched,
      },
      'Swept dead orchestrator pools',
    );
    return {
      deadPools: dead.map((p) => p.id),
      reapedGroups: reaped.killed.length + unrecorded,
    };
  });
}

/** Give the tickets of runs that died with their pool the same work again with a fresh run id. */
async function redispatchRuns(
  trx: Kdb,
  runs: readonly AgentRun[],
  selfId: string,
): Promise<number> {
  let redispatched = 0;
  for (const run of runs)
    if (await redispatchRun(trx, run.ticket_id, run.id, `worker:${selfId}`)) redispatched++;
  return redispatched;
}

/** Seconds since the Postgres server (re)started. */
async function serverUptimeSeconds(trx: Kdb): Promise<number> {
  const { rows } = await sql<{
    seconds: number;
  }>`select extract(epoch from now() - pg_postmaster_start_time())::float8 as seconds`.execute(trx);
  return rows[0]?.seconds ?? 0;
}

/** A pool on this host whose process is gone (or whose pid now belongs to another process). */
export function diedOnThisHost(pool: PoolRow): boolean {
  if (pool.host !== os.hostname() || !pool.process_started_at) return false;
  return processStartTime(pool.pid) !== pool.process_started_at;
}
