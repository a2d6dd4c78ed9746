/**
 * A graphile-worker runner that stays up. graphile-worker 0.17 shuts its worker pool down when it
 * cannot record a job's completion or failure (the database went away at that moment), and its
 * runner then stops. Here that is an event, not an exit: the dying pool drains (agents already
 * running finish and report), a replacement runner starts once the database answers again, and
 * the jobs the dead pool still held locked are handed back with `force_unlock_workers` as soon as
 * it has drained — they belong to this process, so nobody else would free them for 4 hours.
 *
 * A live pool can hold a lock it never knew it took, too: graphile-worker's `get_job` committed on
 * the server while the connection died before its answer arrived (a Postgres restart at that
 * moment), and the query was retried. Such a job is never run and its lock is never released; the
 * tick finds it among this process's old locks ({@link SupervisedRunner.releaseStrays}).
 */
import { EventEmitter } from 'node:events';
import { sql } from 'kysely';
import { run, type Runner, type TaskList, type WorkerEvents } from 'graphile-worker';
import type pg from 'pg';
import type { Logger } from 'pino';
import {
  backoffMs,
  type DatabaseAvailability,
  dbErrorCode,
  firstLine,
  isTransientDbError,
  pause,
} from '../db/availability.js';
import type { Kdb } from '../db/connection.js';
import { type JobLock, nudgeWorkers } from '../db/factory-tick.js';
import { createWorkerLogger } from '../log/logger.js';

export interface SupervisedRunnerOptions {
  readonly db: Kdb;
  readonly pool: pg.Pool;
  readonly concurrency: number;
  readonly taskList: TaskList;
  readonly logger: Logger;
  readonly availability: DatabaseAvailability;
  /** Called for every graphile worker pool id, before it takes a job (recorded on the pool row). */
  readonly onWorkerPool: (workerPoolId: string) => Promise<void>;
  /** How often an idle worker looks for jobs LISTEN did not announce (default 10 s). */
  readonly pollInterval?: number;
  /** Job activity of this process's workers, for idle detection and delayed-job wake-ups. */
  readonly onJobEvent?: (event: JobActivity) => void;
}

/**
 * `start`/`end`: a job began or ended here; `failed`: it ended with an error (a retry is due
 * later); `empty`: a worker looked and found nothing to do.
 */
export type JobActivity = 'start' | 'end' | 'failed' | 'empty';

/** A lock this process's workers took is remembered this long after its job ended. */
const TAKEN_MEMORY_MS = 10 * 60_000;

/**
 * Idle workers look for jobs this often. New jobs are announced (graphile-worker LISTENs on
 * `jobs:insert`) and delayed ones are nudged when due (src/worker/factory.ts), so the poll only
 * bounds how late a job is found whose announcement was lost.
 */
export const POLL_INTERVAL_MS = 10_000;

/** A runner's pool ended before its start was complete (the database went away again). */
class WorkerPoolLostError extends Error {}

export interface SupervisedRunner {
  /** Runners started so far (1 + restarts). */
  readonly generation: () => number;
  /** Retry handing back the jobs of drained pools (after an outage that delayed it). */
  unlockRetired(): Promise<void>;
  /**
   * Of `held` (jobs locked for a while under this process's pool ids), hand back the ones no
   * worker here took — the job, its queue and the attempt the lost lock counted — and return
   * their ids. A lock a worker took is never touched (its job runs, or its pool's retirement
   * hands it back), nor one taken again since `held` was read.
   */
  releaseStrays(held: readonly JobLock[]): Promise<string[]>;
  /** Graceful stop of the current runner; waits for draining ones too. */
  stop(): Promise<void>;
}

/**
 * Start a runner and keep one running until {@link SupervisedRunner.stop}. The first start fails
 * loudly on a configuration error (bad schema, auth); later restarts retry until they succeed.
 */
export async function startSupervisedRunner(o: SupervisedRunnerOptions): Promise<SupervisedRunner> {
  let stopped = false;
  const halt = new AbortController();
  let generation = 0;
  let current: Runner | undefined;
  const draining = new Set<Promise<void>>();
  const retired = new Set<string>();
  let restarting: Promise<void> | undefined;
  /** Locks this process's workers took (job id → attempts), with when the job ended. */
  const taken = new Map<string, { attempts: number; endedAt?: number }>();
  /** Every graphile worker pool id this process's runners used. */
  const own = new Set<string>();

  const releaseStrays = async (held: readonly JobLock[]): Promise<string[]> => {
    const now = Date.now();
    for (const [id, lock] of taken)
      if (lock.endedAt !== undefined && now - lock.endedAt > TAKEN_MEMORY_MS) taken.delete(id);
    const strays = held.filter((lock) => taken.get(lock.id)?.attempts !== lock.attempts);
    if (strays.length === 0) return [];
    const { rows } = await sql<{ id: string }>`
      with stray as (
        select j.id, j.job_queue_id, j.locked_by from graphile_worker._private_jobs j
        join unnest(${strays.map((l) => l.id)}::bigint[], ${strays.map((l) => l.attempts)}::int[])
          as s(id, attempts) on s.id = j.id and s.attempts = j.attempts
        where j.locked_by = any(${[...own]}::text[])
        for update of j
      ), queues as (
        update graphile_worker._private_job_queues q set locked_by = null, locked_at = null
        from stray where q.id = stray.job_queue_id and q.locked_by = stray.locked_by
      )
      update graphile_worker._private_jobs j
      set locked_by = null, locked_at = null, attempts = greatest(j.attempts - 1, 0)
      from stray where j.id = stray.id
      returning j.id::text`.execute(o.db);
    const ids = rows.map((r) => r.id);
    if (ids.length === 0) return ids;
    o.logger.warn({ jobs: ids }, 'Handed back jobs locked by a lost get_job of this process');
    await nudgeWorkers(o.db); // nothing announces an unlocked job
    return ids;
  };

  const unlockRetired = async () => {
    if (retired.size === 0) return;
    const ids = [...retired];
    await sql`select graphile_worker.force_unlock_workers(${ids}::text[])`.execute(o.db);
    for (const id of ids) retired.delete(id);
  };

  /**
   * Start one runner. Its pool can shut down at any moment — even before `run` resolves or its
   * id is recorded (the database went away again while it started): a runner that does is
   * retired (its locked jobs handed back once it drained) and, when it is or was about to be the
   * current one, replaced; a launch that cannot finish stops its runner and retires it too, so no
   * runner is ever left running, or holding jobs, unseen.
   */
  const launch = async (): Promise<Runner> => {
    const events = new EventEmitter() as WorkerEvents;
    const registered: Promise<void>[] = [];
    let workerPoolId: string | undefined;
    events.on('pool:create', ({ workerPool }) => {
      workerPoolId = workerPool.id;
      own.add(workerPool.id);
      registered.push(o.onWorkerPool(workerPool.id));
    });
    events.on('job:start', ({ job }) => taken.set(job.id, { attempts: job.attempts }));
    events.on('job:complete', ({ job }) => {
      const lock = taken.get(job.id);
      if (lock?.attempts === job.attempts) lock.endedAt = Date.now();
    });
    const activity = o.onJobEvent;
    if (activity) {
      events.on('job:start', () => activity('start'));
      events.on('job:complete', ({ error }) => {
        activity('end');
        if (error) activity('failed');
      });
      events.on('worker:getJob:empty', () => activity('empty'));
    }
    let runner: Runner | undefined;
    let shutDownWhileStarting: string | undefined;
    events.on('pool:gracefulShutdown', ({ message }) => {
      if (stopped) return;
      if (runner === undefined || runner !== current) {
        shutDownWhileStarting ??= firstLine(message);
        return;
      }
      o.logger.warn(
        { generation, reason: firstLine(message) },
        'Worker pool shutting down, restarting',
      );
      current = undefined;
      retire(runner, workerPoolId);
      void restart();
    });
    runner = await run({
      pgPool: o.pool,
      concurrency: o.concurrency,
      taskList: o.taskList,
      noHandleSignals: true,
      pollInterval: o.pollInterval ?? POLL_INTERVAL_MS,
      logger: createWorkerLogger(),
      events,
      // No ./crontab from whatever directory `run` was started in: loopwright has no cron items.
      parsedCronItems: [],
      // Batched completion: a failure to record one is handled (pool shutdown, handled above)
      // instead of an unhandled rejection that would end the process.
      preset: { worker: { completeJobBatchDelay: 0, failJobBatchDelay: 0 } },
    });
    try {
      await Promise.all(registered);
      if (shutDownWhileStarting !== undefined)
        throw new WorkerPoolLostError(
          `worker pool shut down while starting: ${shutDownWhileStarting}`,
        );
    } catch (error) {
      retire(runner, workerPoolId);
      await runner.stop().catch(() => {}); // already stopping: graphile says so, nothing else
      throw error;
    }
    generation++;
    current = runner;
    return runner;
  };

  const retire = (runner: Runner, workerPoolId: string | undefined) => {
    const drained = runner.promise
      .catch(() => {})
      .then(async () => {
        if (workerPoolId) retired.add(workerPoolId);
        await unlockRetired().catch(() => {}); // retried by the heartbeat tick
      })
      .finally(() => draining.delete(drained));
    draining.add(drained);
  };

  const restart = () =>
    (restarting ??= (async () => {
      for (let attempt = 0; !stopped; attempt++) {
        await pause(backoffMs(attempt, 10_000), halt.signal);
        await o.availability.whenAvailable(halt.signal);
        if (stopped) return;
        try {
          const runner = await launch();
          watch(runner);
          o.logger.warn({ generation }, 'Worker pool restarted');
          return;
        } catch (error) {
          if (isTransientDbError(error)) o.availability.down(error);
          else if (error instanceof WorkerPoolLostError)
            o.logger.warn({ reason: error.message }, 'Worker pool restart failed, retrying');
          else
            o.logger.error(
              { code: dbErrorCode(error), reason: firstLine(error) },
              'Worker pool restart failed',
            );
        }
      }
    })().finally(() => (restarting = undefined)));

  /** A runner whose promise settles while it is current died some other way: restart too. */
  const watch = (runner: Runner) => {
    runner.promise.then(
      () => {
        if (!stopped && current === runner) {
          current = undefined;
          void restart();
        }
      },
      (error: unknown) => {
        if (stopped || current !== runner) return;
        o.logger.warn({ code: dbErrorCode(error), reason: firstLine(error) }, 'Runner ended');
        current = undefined;
        void restart();
      },
    );
  };

  // The first start fails loudly on a real error; a pool lost while starting is started again
  // the way a restart is.
  try {
    watch(await launch());
  } catch (error) {
    if (!(error instanceof WorkerPoolLostError)) throw error;
    o.logger.warn({ reason: error.message }, 'Worker pool start failed, retrying');
    await restart();
  }
  return {
    generation: () => generation,
    unlockRetired,
    releaseStrays,
    async stop() {
      stopped = true;
      halt.abort();
      await restarting;
      const runner = current;
      current = undefined;
      if (runner)
        await runner.stop().catch((e: unknown) => o.logger.warn({ err: e }, 'Runner stop failed'));
      await Promise.all([...draining]);
    },
  };
}
