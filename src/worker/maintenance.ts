/**
 * What a factory does when no event tells it to: one tick that beats the heartbeat and reads, in
 * the same statement, whether anything needs the sweeper (src/db/factory-tick.ts); a scheduling
 * pass now and then as a safety net; and wake-ups for delayed jobs (retries, timers), which
 * Postgres does not announce when they fall due.
 *
 * Bounds (with the defaults: tick 10 s, stale 30 s): a pool that died on this host is swept within
 * one tick, one elsewhere within stale + one tick (40 s); a delayed job seen by a tick, or retried
 * by this process, is nudged when due; one added elsewhere after the last tick is found by the
 * workers' poll (10 s) at the latest.
 */
import type { Logger } from 'pino';
import type { DatabaseAvailability } from '../db/availability.js';
import type { Kdb } from '../db/connection.js';
import {
  beatAndRead,
  type JobLock,
  nudgeWorkers,
  secondsToNextJob,
  type TickReading,
} from '../db/factory-tick.js';
import { scheduleReady } from '../scheduler/schedule.js';
import { diedOnThisHost, sweepDeadPools } from './sweeper.js';

/** Default tick period; `staleSeconds` should be at least three of them. */
export const TICK_MS = 10_000;

/** The scheduling safety net runs at most this often (ticket moves schedule on their own). */
export const SCHEDULE_SAFETY_MS = 30_000;

export interface MaintenanceOptions {
  readonly db: Kdb;
  readonly poolId: string;
  readonly staleSeconds: number;
  readonly maxActive: number;
  readonly logger: Logger;
  readonly availability: DatabaseAvailability;
  /** Hand back the jobs of this process's drained runners (no query when there are none). */
  readonly unlockRetired: () => Promise<void>;
  /** Hand back those of this pool's old locks none of its workers took. */
  readonly releaseStrays: (held: readonly JobLock[]) => Promise<unknown>;
  /** Called after the sweeper retired at least one dead pool. */
  readonly onSwept?: () => Promise<void>;
}

export interface Maintenance {
  /** One tick (the factory calls it on its timer). */
  tick(): Promise<void>;
  /** Something of ours failed and will be retried later: plan its wake-up. */
  jobFailed(): void;
  /** Whether the last tick saw a repository with integration settings. */
  readonly integrationsInUse: () => boolean;
  stop(): void;
}

export function createMaintenance(o: MaintenanceOptions): Maintenance {
  let lastSchedule = Date.now();
  let integrations = false;
  const due = createDueNudge(o.db, TICK_MS);
  return {
    async tick() {
      const reading = await beatAndRead(o.db, o.poolId, o.staleSeconds);
      integrations = reading.integrations;
      await o.unlockRetired();
      if (reading.ownLocks.length > 0) await o.releaseStrays(reading.ownLocks);
      if (maySweep(reading, o.staleSeconds)) {
        const swept = await sweepDeadPools(o.db, o.poolId, o.staleSeconds, o.logger, {
          // Right after an outage every pool looks silent: give the others time to heartbeat.
          silenceCounts: o.availability.upForMs() > o.staleSeconds * 1000,
        });
        if (swept.deadPools.length > 0) await o.onSwept?.();
      }
      due.plan(reading.nextJobInSeconds);
      if (Date.now() - lastSchedule >= SCHEDULE_SAFETY_MS) {
        lastSchedule = Date.now();
        await scheduleReady(o.db, { maxActive: o.maxActive });
      }
    },
    // graphile-worker records the failure (and its retry time) a moment after announcing it.
    jobFailed: () => void setTimeout(() => due.refresh(), 100),
    integrationsInUse: () => integrations,
    stop: () => due.stop(),
  };
}

/** A silent pool, one of this host whose process is gone, or a lock nobody claims. */
function maySweep(r: TickReading, staleSeconds: number): boolean {
  return (
    r.unclaimedLocks || r.pools.some((p) => p.silentSeconds > staleSeconds || diedOnThisHost(p))
  );
}

/**
 * Wake the workers when the earliest delayed job falls due (within `horizonMs`; later ones are
 * planned by a later tick).
 */
function createDueNudge(db: Kdb, horizonMs: number) {
  let timer: NodeJS.Timeout | null = null;
  let stopped = false;
  let refreshing = false;
  const clear = () => {
    if (timer) clearTimeout(timer);
    timer = null;
  };
  const plan = (seconds: number | null) => {
    clear();
    if (stopped || seconds === null || seconds * 1000 > horizonMs) return;
    timer = setTimeout(() => void fire(), Math.max(0, seconds * 1000) + 5);
  };
  const fire = async () => {
    timer = null;
    await nudgeWorkers(db).catch(() => {});
    refresh();
  };
  const refresh = () => {
    if (refreshing || stopped) return;
    refreshing = true;
    void secondsToNextJob(db)
      .then(plan, () => {})
      .finally(() => (refreshing = false));
  };
  return {
    plan,
    refresh,
    stop: () => {
      stopped = true;
      clear();
    },
  };
}
