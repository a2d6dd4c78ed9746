/**
 * `loopwright run`: a pool of graphile-worker runners executing the jobs the engine enqueues, a
 * pool row with a heartbeat, the sweeper, and a scheduling tick as a safety net. Several of these
 * processes (on one or many machines) may share one database; all coordination is in Postgres.
 */
import { randomUUID } from 'node:crypto';
import os from 'node:os';
import path from 'node:path';
import type { TaskList } from 'graphile-worker';
import type { Logger } from 'pino';
import { processStartTime } from '../agents/reap.js';
import { packageVersion } from '../config/package-root.js';
import {
  DatabaseAvailability,
  dbErrorCode,
  firstLine,
  isTransientDbError,
} from '../db/availability.js';
import type { Db } from '../db/connection.js';
import { addWorkerId, heartbeatPool, registerPool, stopPool } from '../db/pools.js';
import { scheduleReady } from '../scheduler/schedule.js';
import { isIdle } from './idle.js';
import { sweepDeadPools } from './sweeper.js';
import { runGc } from '../workspace/gc.js';
import { sweepScratchCheckouts } from '../workspace/scratch-checkout.js';
import { startSupervisedRunner, type SupervisedRunner } from './supervised-runner.js';
import { bindJobLogs, createTaskList } from './tasks.js';
import { integrationTaskList, tasksForLane, type Lane } from '../integrations/jobs.js';
import { startIntegrations, type Integrations } from '../integrations/service.js';

/** Scratch checkouts without a named creator are a dead process's after this long. */
const SCRATCH_MAX_AGE_MS = 24 * 3600_000;
/** Retention (`loopwright gc`) runs at start and this often: one query when nothing is due. */
const GC_INTERVAL_MS = 3600_000;

export interface FactoryOptions {
  readonly handle: Db;
  readonly home: string;
  /** Worker slots in this process (agents running at once). */
  readonly concurrency: number;
  /** Most tickets holding a slot across the factory (default: concurrency). */
  readonly maxActive?: number;
  /** Resolve `done` with 'idle' once no ticket can move. */
  readonly untilIdle: boolean;
  readonly logger: Logger;
  /** A pool silent this long is dead (default 30 s). */
  readonly staleSeconds?: number;
  readonly heartbeatMs?: number;
  /** Shared with the handle's patient pool, so an outage is logged once per process. */
  readonly availability?: DatabaseAvailability;
  /** Called first in stop(): lets the handle's pending connects give up (see `Patience`). */
  readonly stopWaiting?: () => void;
  /** Which work this process takes: agents (no token), integrations (tokens), or all (default). */
  readonly lanes?: Lane;
  /** Integrations lane: receive webhooks on this port (0: any free port). */
  readonly webhookPort?: number;
}

export interface Factory {
  readonly poolId: string;
  /** 'idle' when --until-idle found nothing left to move, 'stopped' after stop(). */
  readonly done: Promise<'idle' | 'stopped'>;
  /** The webhook receiver's address, when this process runs one. */
  readonly webhookUrl: string | null;
  /**
   * Graceful: kill running agents (their jobs are retried later), stop the runners, mark the pool
   * stopped.
   */
  stop(): Promise<void>;
}

export async function startFactory(o: FactoryOptions): Promise<Factory> {
  const { db, pool } = o.handle;
  const poolId = randomUUID();
  const abort = new AbortController();
  const availability = o.availability ?? new DatabaseAvailability(o.logger);
  await registerPool(db, {
    id: poolId,
    host: os.hostname(),
    pid: process.pid,
    concurrency: o.concurrency,
    process_started_at: processStartTime(process.pid),
    version: packageVersion(),
  });
  const staleSeconds = o.staleSeconds ?? 30;
  await sweepDeadPools(db, poolId, staleSeconds, o.logger);
  // Retention, including scratch checkouts a killed process left behind (older than a day).
  const collect = () => runGc({ db, home: o.home, logger: o.logger });
  void collect().catch((e: unknown) => tickFailed(o.logger, availability, e, 'Retention failed'));
  const maxActive = o.maxActive ?? o.concurrency;
  const deps = { db, home: o.home, poolId, logger: o.logger, signal: abort.signal };
  const lanes = o.lanes ?? 'all';
  const taskList: TaskList = tasksForLane(
    bindJobLogs(db, { ...createTaskList(deps, maxActive), ...integrationTaskList(deps) }),
    lanes,
  );
  const unguard = guardUnhandledRejections(o.logger, availability);
  let runner: SupervisedRunner;
  try {
    runner = await startSupervisedRunner({
      db,
      pool,
      concurrency: o.concurrency,
      taskList,
      logger: o.logger,
      availability,
      onWorkerPool: (id) => addWorkerId(db, poolId, id),
    });
  } catch (error) {
    unguard();
    throw error;
  }
  let integrations: Integrations | null;
  try {
    integrations =
      lanes === 'agents'
        ? null
        : await startIntegrations({
            db,
            home: o.home,
            logger: o.logger,
            ...(o.webhookPort === undefined ? {} : { webhookPort: o.webhookPort }),
          });
  } catch (error) {
    // A half-started factory (the database went away meanwhile) leaves no runner behind, so the
    // caller can start again.
    await runner.stop().catch(() => {});
    unguard();
    throw error;
  }
  o.logger.info({ pool: poolId, concurrency: o.concurrency, lanes }, 'Factory started');
  await scheduleReady(db, { maxActive }).catch((e) =>
    tickFailed(o.logger, availability, e, 'Scheduling failed'),
  );

  let resolveDone!: (why: 'idle' | 'stopped') => void;
  const done = new Promise<'idle' | 'stopped'>((resolve) => (resolveDone = resolve));
  const tick = (ms: number, what: string, work: () => Promise<unknown>) =>
    setInterval(
      () =>
        void work().then(
          () => availability.up(),
          (e: unknown) => tickFailed(o.logger, availability, e, what),
        ),
      ms,
    );
  const timers = [
    tick(o.heartbeatMs ?? 5000, 'Heartbeat failed', async () => {
      await heartbeatPool(db, poolId);
      await runner.unlockRetired();
    }),
    tick(10_000, 'Sweep failed', async () => {
      const swept = await sweepDeadPools(db, poolId, staleSeconds, o.logger, {
        // Right after an outage every pool looks silent: give the others time to heartbeat.
        silenceCounts: availability.upForMs() > staleSeconds * 1000,
      });
      // A dead pool's scratch checkouts (its gates' and merge checks') go with it.
      if (swept.deadPools.length > 0) await sweepOrphanScratch(o.home, o.logger);
    }),
    tick(5000, 'Scheduling failed', () => scheduleReady(db, { maxActive })),
    tick(GC_INTERVAL_MS, 'Retention failed', collect),
  ];
  let stopping: Promise<void> | undefined;
  let reason: 'idle' | 'stopped' = 'stopped';
  const stop = () =>
    (stopping ??= (async () => {
      timers.forEach(clearInterval);
      abort.abort();
      o.stopWaiting?.();
      await integrations?.stop();
      await runner.stop();
      await stopPool(db, poolId).catch((e: unknown) =>
        o.logger.warn({ code: dbErrorCode(e), reason: firstLine(e) }, 'Pool stop not recorded'),
      );
      unguard();
      o.logger.info({ pool: poolId }, 'Factory stopped');
      resolveDone(reason);
    })());
  if (o.untilIdle) {
    watchIdle(
      o,
      () => {
        reason = 'idle';
        void stop();
      },
      abort.signal,
    );
  }
  return { poolId, done, stop, webhookUrl: integrations?.webhookUrl ?? null };
}

async function sweepOrphanScratch(home: string, logger: Logger): Promise<void> {
  const root = path.join(home, 'tmp');
  const removed = await sweepScratchCheckouts({ root, olderThanMs: SCRATCH_MAX_AGE_MS });
  if (removed.length > 0)
    logger.info({ removed: removed.length }, 'Orphaned scratch checkouts removed');
}

/** A timer's failure: an outage is logged once (availability), anything else as a warning. */
function tickFailed(
  logger: Logger,
  availability: DatabaseAvailability,
  error: unknown,
  what: string,
): void {
  if (isTransientDbError(error)) availability.down(error);
  else logger.warn({ code: dbErrorCode(error), reason: firstLine(error) }, what);
}

/**
 * While the factory runs, a promise some library left unhandled (graphile-worker records job
 * results without awaiting them) is logged instead of ending the process, the Node default.
 */
function guardUnhandledRejections(logger: Logger, availability: DatabaseAvailability): () => void {
  const onRejection = (reason: unknown) => {
    if (isTransientDbError(reason)) availability.down(reason);
    else
      logger.error({ code: dbErrorCode(reason), reason: firstLine(reason) }, 'Unhandled rejection');
  };
  process.on('unhandledRejection', onRejection);
  return () => process.off('unhandledRejection', onRejection);
}

/** Poll for "no ticket can move"; two idle readings a second apart, to step over hand-offs. */
function watchIdle(o: FactoryOptions, onIdle: () => void, signal: AbortSignal): void {
  let streak = 0;
  const tick = async () => {
    if (signal.aborted) return;
    streak = (await isIdle(o.handle.db).catch(() => false)) ? streak + 1 : 0;
    if (streak >= 2) return onIdle();
    setTimeout(() => void tick(), 500);
  };
  setTimeout(() => void tick(), 500);
}
