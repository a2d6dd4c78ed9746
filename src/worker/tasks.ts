/**
 * The task list graphile-worker runs: one handler per work action of the ticket machine
 * (src/engine/work.ts TASKS), and the job boundary where log lines learn which ticket, run and
 * repository they are about ({@link bindJobLogs}).
 */
import type { JobHelpers, Task, TaskList } from 'graphile-worker';
import type { Kdb } from '../db/connection.js';
import { ticketNames } from '../db/tickets.js';
import { HOUSEKEEPING_PRIORITY } from '../engine/work.js';
import { type LogBindings, rememberJob, withLogBindings } from '../log/context.js';
import { runAgentJob, type JobDeps } from '../phases/agent-job.js';
import type { WorkPayload } from '../phases/dispatch.js';
import { liveCheckJob, mergeJob } from '../phases/ship-job.js';
import { budgetTimerJob, freezePlanJob, releaseWorkspaceJob } from '../phases/work-jobs.js';
import { absorbWaitingPasses, scheduleReady } from '../scheduler/schedule.js';
import { unblockReady } from '../scheduler/unblock.js';
import { journalGiveUp, shouldGiveUp } from './stuck-work.js';

export function createTaskList(deps: JobDeps, maxActive: number): TaskList {
  const task =
    (name: string, handler: (payload: WorkPayload, helpers: JobHelpers) => Promise<void>): Task =>
    async (payload, helpers) => {
      const started = Date.now();
      const work = payload as WorkPayload;
      try {
        await handler(work, helpers);
      } catch (error) {
        if (!work.runId || !shouldGiveUp(error, helpers.job, deps.signal.aborted)) throw error;
        await journalGiveUp(
          deps.db,
          deps.logger,
          name,
          work.runId,
          work.ticketId,
          helpers.job,
          error,
        );
      } finally {
        deps.logger.debug(
          { task: name, job: helpers.job.id, ms: Date.now() - started },
          'Job finished',
        );
      }
    };
  const schedule = async () => {
    await absorbWaitingPasses(deps.db);
    await unblockReady(deps.db);
    await scheduleReady(deps.db, { maxActive });
  };
  return {
    agent_run: task('agent_run', (p) => runAgentJob(deps, p)),
    freeze_plan: task('freeze_plan', (p) => freezePlanJob(deps, p)),
    merge: task('merge', (p, helpers) =>
      mergeJob(deps, p, async (next, delay) => {
        // Same key family (lw:<ticket>:r:...), so pending-work look-ups still see the ticket's
        // merge.
        const key = (helpers.job.key ?? `lw:${p.ticketId}:r:${p.seq}`).replace(/:wait$/, '');
        await helpers.addJob('merge', next, {
          runAt: new Date(Date.now() + delay * 1000),
          jobKey: `${key}:wait`,
        });
      }),
    ),
    live_check: task('live_check', (p) => liveCheckJob(deps, p)),
    budget_timer: task('budget_timer', (p) => budgetTimerJob(deps, p)),
    schedule: task('schedule', schedule),
    notify_dependents: task('notify_dependents', schedule),
    release_workspace: task('release_workspace', (p, helpers) =>
      releaseWorkspaceJob(deps, p, async (delay) => {
        await helpers.addJob('release_workspace', p, {
          runAt: new Date(Date.now() + delay * 1000),
          priority: HOUSEKEEPING_PRIORITY,
          jobKey: `${helpers.job.key ?? `lw:${p.ticketId}`}:later`,
        });
      }),
    ),
  };
}

/** Tasks that schedule other tickets: no single ticket's bindings fit their lines. */
const FACTORY_TASKS = new Set(['schedule', 'notify_dependents']);

/**
 * Wrap every ticket task so that each line logged while it runs carries the ticket's key, the
 * run id and the repository's name (src/log/context.ts).
 *
 * @example
 * ```ts
 * const taskList = bindJobLogs(db, { ...createTaskList(deps, 2), ...integrationTaskList(deps) });
 * ```
 */
export function bindJobLogs(db: Kdb, tasks: TaskList): TaskList {
  const wrap =
    (task: Task): Task =>
    async (payload, helpers) => {
      const bindings = await bindingsOf(db, payload);
      if (!bindings) return task(payload, helpers);
      rememberJob(helpers.job.id, bindings);
      return withLogBindings(bindings, () => task(payload, helpers));
    };
  return Object.fromEntries(
    Object.entries(tasks).map(([name, task]) => [
      name,
      FACTORY_TASKS.has(name) || !task ? task : wrap(task),
    ]),
  ) as TaskList;
}

async function bindingsOf(db: Kdb, payload: unknown): Promise<LogBindings | undefined> {
  const work = (payload ?? {}) as Partial<WorkPayload>;
  if (typeof work.ticketId !== 'string') return undefined;
  const names = await namesOf(db, work.ticketId);
  if (!names) return undefined;
  return { ticket: names.key, run: work.runId ?? null, repo: names.repo };
}

/**
 * A ticket's key and repository name, asked of the database once per ticket and process: neither
 * ever changes (a key is the ticket's for life; a repository keeps its name, and a removed one
 * keeps its row while it has tickets).
 */
async function namesOf(db: Kdb, ticketId: string): Promise<TicketNames | undefined> {
  let names = NAMES.get(db);
  if (!names) NAMES.set(db, (names = new Map()));
  const known = names.get(ticketId);
  if (known) return known;
  // A lookup that fails (database away) leaves the lines unbound; the job itself will say why.
  const found = await ticketNames(db, ticketId).catch(() => undefined);
  if (!found) return undefined;
  if (names.size >= MAX_NAMES) names.clear();
  names.set(ticketId, found);
  return found;
}

type TicketNames = { readonly key: string; readonly repo: string };
/** Per database handle: ticket ids are only unique within one database. */
const NAMES = new WeakMap<Kdb, Map<string, TicketNames>>();
/** Enough for every ticket a factory works on at once; past it the cache starts over. */
const MAX_NAMES = 10_000;
