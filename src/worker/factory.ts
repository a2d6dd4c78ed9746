/**
 * `loopwright run`: a pool of graphile-worker runners executing the jobs the engine enqueues, a
 * pool row with a heartbeat, the sweeper and a scheduling safety net on one quiet tick
 * (src/worker/maintenance.ts), and the journal's LISTEN feed for whatever reacts to moves. Several
 * of these processes (on one or many machines) may share one database; all coordination is in
 * Postgres.
 */
import { randomUUID } from 'node:crypto';
import os from 'node:os';
import path from 'node:path';
import type { TaskList } from 'graphile-worker';
import type { Logger } from 'pino';
import { processStartTime } from '../agents/reap.js';
import { detectSandbox, keepSpareScratch, settleScratchRemovals } from '../agents/sandbox/index.js';
import { packageVersion } from '../config/package-root.js';
import {
  DatabaseAvailability,
  dbErrorCode,
  firstLine,
  isTransientDbError,
} from '../db/availability.js';
import type { Db } from '../db/connection.js';
import { addWorkerId, registerPool, stopPool } from '../db/pools.js';
import { scheduleReady } from '../scheduler/schedule.js';
import { type IdleWatch, watchIdle } from './idle.js';
import { createMaintenance, type Maintenance, TICK_MS } from './maintenance.js';
import { sweepDeadPools } from './sweeper.js';
import { openLiveFeed, type LiveFeed } from '../console/live-feed.js';
import { readSecret } from '../integrations/credentials.js';
import { runGc } from '../workspace/gc.js';
import { drainScratchPool, sweepScratchCheckouts } from '../workspace/scratch-checkout.js';
import {
  type JobActivity,
  startSupervisedRunner,
  type SupervisedRunner,
} from './supervised-runner.js';
import { bindJobLogs, createTaskList } from './tasks.js';
import { integrationTaskList, tasksForLane, type Lane } from '../integrations/jobs.js';
import { startIntegrations, type Integrations } from '../integrations/service.js';
import { closeObjectStores } from '../workspace/object-store.js';

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
  /** The tick: heartbeat, sweep check, delayed-job wake-ups (default 10 s). */
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
  /** Subscribe to ticket moves anywhere on the database (LISTEN); null without the feed. */
  readonly onChange: ((listener: () => void) => () => void) | null;
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
  // The sandbox probe (a bwrap trial run, cached per process) runs while the pool registers, so
  // the first agent's dispatch does not wait for it (whoever awaits it later hears its outcome).
  detectSandbox().catch(() => undefined);
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
  let running = 0;
  let idle: IdleWatch | null = null;
  let maintenance: Maintenance | null = null;
  const onJobEvent = (event: JobActivity) => {
    if (event === 'start') running++;
    else if (event === 'end') running--;
    else if (event === 'failed') maintenance?.jobFailed();
    if (event !== 'start') idle?.poke();
  };
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
      onJobEvent,
    });
  } catch (error) {
    unguard();
    throw error;
  }
  const ticks = createMaintenance({
    db,
    poolId,
    staleSeconds,
    maxActive,
    logger: o.logger,
    availability,
    unlockRetired: () => runner.unlockRetired(),
    releaseStrays: (held) => runner.releaseStrays(held),
    // A dead pool's scratch checkouts (its gates' and merge checks') go with it.
    onSwept: () => sweepOrphanScratch(o.home, o.logger),
  });
  maintenance = ticks;
  const feed = await openFeed(o);
  let integrations: Integrations | null;
  try {
    integrations =
      lanes === 'agents'
        ? null
        : await startIntegrations({
            db,
            home: o.home,
            logger: o.logger,
            active: () => ticks.integrationsInUse() || integrationSecretsSet(),
            ...(o.webhookPort === undefined ? {} : { webhookPort: o.webhookPort }),
          });
  } catch (error) {
    // A half-started factory (the database went away meanwhile) leaves no runner behind, so the
    // caller can start again.
    await runner.stop().catch(() => {});
    await feed?.close();
    unguard();
    throw error;
  }
  o.logger.info({ pool: poolId, concurrency: o.concurrency, lanes }, 'Factory started');
  await scheduleReady(db, { maxActive }).catch((e) =>
    tickFailed(o.logger, availability, e, 'Scheduling failed'),
  );
  const runTick = () =>
    void ticks.tick().then(
      () => availability.up(),
      (e: unknown) => tickFailed(o.logger, availability, e, 'Factory tick failed'),
    );
  runTick(); // reads integrations and delayed jobs now, not a tick from now
  const timer = setInterval(runTick, o.heartbeatMs ?? TICK_MS);
  const gcTimer = setInterval(
    () =>
      void collect().catch((e: unknown) =>
        tickFailed(o.logger, availability, e, 'Retention failed'),
      ),
    GC_INTERVAL_MS,
  );

  let resolveDone!: (why: 'idle' | 'stopped') => void;
  const done = new Promise<'idle' | 'stopped'>((resolve) => (resolveDone = resolve));
  let stopping: Promise<void> | undefined;
  let reason: 'idle' | 'stopped' = 'stopped';
  // Each sandboxed run's private /tmp is made ahead of its launch while the factory runs.
  const releaseSpareScratch = keepSpareScratch();
  const stop = () =>
    (stopping ??= (async () => {
      clearInterval(timer);
      clearInterval(gcTimer);
      ticks.stop();
      idle?.stop();
      abort.abort();
      o.stopWaiting?.();
      await integrations?.stop();
      await runner.stop();
      await closeObjectStores(); // the repositories' cat-file readers (each after its last answer)
      await drainScratchPool(path.join(o.home, 'tmp')); // gates' kept checkouts of this home
      releaseSpareScratch();
      await settleScratchRemovals(); // the finished runs' private /tmp directories, the spare
      await feed?.close();
      await stopPool(db, poolId).catch((e: unknown) =>
        o.logger.warn({ code: dbErrorCode(e), reason: firstLine(e) }, 'Pool stop not recorded'),
      );
      unguard();
      o.logger.info({ pool: poolId }, 'Factory stopped');
      resolveDone(reason);
    })());
  if (o.untilIdle) {
    idle = watchIdle(
      db,
      () => {
        reason = 'idle';
        void stop();
      },
      abort.signal,
      { running: () => running },
    );
  }
  feed?.subscribe(() => idle?.poke());
  return {
    poolId,
    done,
    stop,
    webhookUrl: integrations?.webhookUrl ?? null,
    onChange: feed ? (listener) => feed.subscribe(() => listener()) : null,
  };
}

async function sweepOrphanScratch(home: string, logger: Logger): Promise<void> {
  const root = path.join(home, 'tmp');
  const removed = await sweepScratchCheckouts({ root, olderThanMs: SCRATCH_MAX_AGE_MS });
  if (removed.length > 0)
    logger.info({ removed: removed.length }, 'Orphaned scratch checkouts removed');
}

/**
 * The journal's LISTEN feed (ticket moves, agent runs), or null when it cannot be opened: idle
 * detection then falls back to its timers.
 */
async function openFeed(o: FactoryOptions): Promise<LiveFeed | null> {
  try {
    return await openLiveFeed({ url: o.handle.target.url, logger: o.logger });
  } catch (error) {
    o.logger.warn({ code: dbErrorCode(error), reason: firstLine(error) }, 'No live feed');
    return null;
  }
}

/** Integration secrets in the environment make the integrations loop run without repo settings. */
function integrationSecretsSet(): boolean {
  return Boolean(readSecret('LINEAR_API_KEY') || readSecret('LOOPWRIGHT_NOTIFY_WEBHOOK_URL'));
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
