/**
 * `loopwright run`: a pool of graphile-worker runners executing the jobs the engine enqueues, a
 * pool row with a heartbeat, the sweeper, and a scheduling tick as a safety net. Several of these
 * processes (on one or many machines) may share one database; all coordination is in Postgres.
 */
import { randomUUID } from 'node:crypto';
import os from 'node:os';
import { EventEmitter } from 'node:events';
import { run, type Runner, type TaskList, type WorkerEvents } from 'graphile-worker';
import type { Logger } from 'pino';
import { processStartTime } from '../agents/reap.js';
import { packageVersion } from '../config/package-root.js';
import type { Db } from '../db/connection.js';
import { addWorkerId, heartbeatPool, registerPool, stopPool } from '../db/pools.js';
import { createWorkerLogger } from '../log/logger.js';
import { scheduleReady } from '../scheduler/schedule.js';
import { isIdle } from './idle.js';
import { sweepDeadPools } from './sweeper.js';
import { createTaskList } from './tasks.js';

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
}

export interface Factory {
  readonly poolId: string;
  /** 'idle' when --until-idle found nothing left to move, 'stopped' after stop(). */
  readonly done: Promise<'idle' | 'stopped'>;
  /** Graceful: kill running agents (their jobs are retried later), stop the runners, mark the pool stopped. */
  stop(): Promise<void>;
}

export async function startFactory(o: FactoryOptions): Promise<Factory> {
  const { db, pool } = o.handle;
  const poolId = randomUUID();
  const abort = new AbortController();
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
  const maxActive = o.maxActive ?? o.concurrency;
  const taskList: TaskList = createTaskList(
    { db, home: o.home, poolId, logger: o.logger, signal: abort.signal },
    maxActive,
  );
  const events = new EventEmitter() as WorkerEvents;
  const registered: Promise<void>[] = [];
  events.on('pool:create', ({ workerPool }) =>
    registered.push(addWorkerId(db, poolId, workerPool.id)),
  );
  const runner: Runner = await run({
    pgPool: pool,
    concurrency: o.concurrency,
    taskList,
    noHandleSignals: true,
    pollInterval: 2000,
    logger: createWorkerLogger(),
    events,
  });
  await Promise.all(registered);
  o.logger.info({ pool: poolId, concurrency: o.concurrency }, 'Factory started');
  await scheduleReady(db, { maxActive });

  let resolveDone!: (why: 'idle' | 'stopped') => void;
  const done = new Promise<'idle' | 'stopped'>((resolve) => (resolveDone = resolve));
  const timers = [
    setInterval(
      () =>
        void heartbeatPool(db, poolId).catch((e) => o.logger.warn({ err: e }, 'Heartbeat failed')),
      o.heartbeatMs ?? 5000,
    ),
    setInterval(
      () =>
        void sweepDeadPools(db, poolId, staleSeconds, o.logger).catch((e) =>
          o.logger.warn({ err: e }, 'Sweep failed'),
        ),
      10_000,
    ),
    setInterval(
      () =>
        void scheduleReady(db, { maxActive }).catch((e) =>
          o.logger.warn({ err: e }, 'Scheduling failed'),
        ),
      5000,
    ),
  ];
  let stopping: Promise<void> | undefined;
  let reason: 'idle' | 'stopped' = 'stopped';
  const stop = () =>
    (stopping ??= (async () => {
      timers.forEach(clearInterval);
      abort.abort();
      await runner.stop().catch((e: unknown) => o.logger.warn({ err: e }, 'Runner stop failed'));
      await stopPool(db, poolId);
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
  return { poolId, done, stop };
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
