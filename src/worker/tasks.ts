/**
 * The task list graphile-worker runs: one handler per work action of the ticket machine
 * (src/engine/work.ts TASKS).
 */
import type { JobHelpers, Task, TaskList } from 'graphile-worker';
import { runAgentJob, type JobDeps } from '../phases/agent-job.js';
import type { WorkPayload } from '../phases/dispatch.js';
import { liveCheckJob, mergeJob } from '../phases/ship-job.js';
import { budgetTimerJob, freezePlanJob, releaseWorkspaceJob } from '../phases/work-jobs.js';
import { scheduleReady } from '../scheduler/schedule.js';
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
          jobKey: `${helpers.job.key ?? `lw:${p.ticketId}`}:later`,
        });
      }),
    ),
  };
}
