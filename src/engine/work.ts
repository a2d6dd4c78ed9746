/**
 * Turning the machine's named work actions into graphile-worker jobs, inside the transaction that
 * applied the event (the outbox): a state change and the work it implies commit or vanish together.
 */
import { randomUUID } from 'node:crypto';
import { sql } from 'kysely';
import type { Phase, Role, TicketContext, WorkAction } from '../../machines/ticket.js';
import { WORK_ACTIONS } from '../../machines/ticket.js';
import type { Kdb } from '../db/connection.js';
import type { StoredAction } from '../db/schema.js';
import { addJobsStatement, type JobSpec } from '../db/ticket-rows.js';
import { kyselySession } from '../db/tx-session.js';

/** Task identifiers the worker (src/worker) implements, one per work action. */
export const TASKS: Record<WorkAction, string> = {
  dispatchAgent: 'agent_run',
  freezePlan: 'freeze_plan',
  mergeBranch: 'merge',
  runLiveCheck: 'live_check',
  armBudgetTimer: 'budget_timer',
  requestSchedule: 'schedule',
  notifyDependents: 'notify_dependents',
  releaseWorkspace: 'release_workspace',
  publishPr: 'publish_pr',
  mergePr: 'merge_pr',
};

/**
 * Housekeeping no ticket waits on runs after everything else that is due (graphile-worker takes
 * the lowest priority first): a finished ticket's workspace release never holds up the next
 * agent's start on a busy worker. It is not starved for long: a worker takes it in the first gap.
 */
export const HOUSEKEEPING_PRIORITY = 10;
const HOUSEKEEPING: ReadonlySet<WorkAction> = new Set(['releaseWorkspace']);

/** Work whose result comes back as an event and so gets a run id to fence it. */
const REPORTING: ReadonlySet<WorkAction> = new Set([
  'dispatchAgent',
  'freezePlan',
  'mergeBranch',
  'runLiveCheck',
  'publishPr',
  'mergePr',
]);

export type { JobSpec } from '../db/ticket-rows.js';

export interface AgentRunSpec {
  readonly id: string;
  readonly role: Role;
  readonly phase: Phase;
  readonly attempt: number;
  readonly round: number;
}

export interface PlannedWork {
  readonly jobs: readonly JobSpec[];
  /** The run id the next result must carry, when this transition dispatched reporting work. */
  readonly runId: string | null;
  readonly agentRun: AgentRunSpec | null;
}

/** Keep only the actions that imply work, in the storable form the journal keeps. */
export function workActionsOf(
  actions: readonly { type: string; params?: unknown }[],
): StoredAction[] {
  return actions
    .filter((a) => (WORK_ACTIONS as readonly string[]).includes(a.type))
    .map((a) =>
      a.params && typeof a.params === 'object'
        ? { type: a.type, params: { ...(a.params as Record<string, unknown>) } }
        : { type: a.type },
    );
}

/**
 * Plan the jobs for one journal row. Keys are `lw:<ticket>:<kind>:<seq>:<index>` where kind is
 * `r` for reporting work (its result comes back as an event), `w` for other work and `t` for
 * timers, so a ticket's pending work of each kind can be found by prefix.
 */
export function planWork(
  ticketId: string,
  seq: number,
  actions: readonly StoredAction[],
  context: TicketContext,
): PlannedWork {
  const jobs: JobSpec[] = [];
  let runId: string | null = null;
  let agentRun: AgentRunSpec | null = null;
  actions.forEach((action, index) => {
    const type = action.type as WorkAction;
    const payload: Record<string, unknown> = { ticketId, seq, action: type, ...action.params };
    if (type === 'armBudgetTimer') {
      if (context.limits.wallClockSeconds === null) return;
      jobs.push(
        job(
          TASKS[type],
          { ...payload, timer: context.timer },
          `lw:${ticketId}:t:${seq}:${index}`,
          context.limits.wallClockSeconds,
          1,
          0,
        ),
      );
      return;
    }
    const reporting = REPORTING.has(type);
    if (reporting) {
      runId = randomUUID();
      payload.runId = runId;
      if (type === 'dispatchAgent') {
        const { role, phase } = action.params as { role: Role; phase: Phase };
        const attempt =
          phase === 'red'
            ? context.redAttempt
            : phase === 'build' || phase === 'validate'
              ? context.attempt
              : 0;
        agentRun = { id: runId, role, phase, attempt, round: context.round };
        Object.assign(payload, { attempt, round: context.round });
      }
    }
    const key = `lw:${ticketId}:${reporting ? 'r' : 'w'}:${seq}:${index}`;
    const priority = HOUSEKEEPING.has(type) ? HOUSEKEEPING_PRIORITY : 0;
    jobs.push(job(TASKS[type], payload, key, 0, 5, priority));
  });
  return { jobs, runId, agentRun };
}

function job(
  identifier: string,
  payload: Record<string, unknown>,
  key: string,
  delay: number,
  maxAttempts: number,
  priority: number,
): JobSpec {
  return {
    identifier,
    payload,
    job_key: key,
    delay_seconds: delay,
    max_attempts: maxAttempts,
    priority,
  };
}

/** Enqueue jobs with graphile_worker.add_jobs on the given (transaction) connection. */
export async function enqueueJobs(db: Kdb, jobs: readonly JobSpec[]): Promise<string[]> {
  if (jobs.length === 0) return [];
  const rows = await kyselySession(db).query<{ id: string }>(addJobsStatement(jobs));
  return rows.map((r) => r.id);
}

export interface PendingJob {
  readonly id: string;
  readonly key: string;
  readonly task: string;
  readonly lockedBy: string | null;
  readonly attempts: number;
}

/**
 * Jobs of a ticket that are queued, running or will be retried (not permanently failed):
 * by default only reporting work (`r`), the work whose loss leaves a ticket stuck.
 */
export async function pendingWork(
  db: Kdb,
  ticketId: string,
  kinds: readonly ('r' | 'w' | 't')[] = ['r'],
): Promise<PendingJob[]> {
  const result = await sql<{
    id: string;
    key: string;
    task_identifier: string;
    locked_by: string | null;
    attempts: number;
  }>`
    select id, key, task_identifier, locked_by, attempts from graphile_worker.jobs
    where key like any(${kinds.map((k) => `lw:${ticketId}:${k}:%`)}::text[])
      and attempts < max_attempts
    order by id`.execute(db);
  return result.rows.map((r) => ({
    id: r.id,
    key: r.key,
    task: r.task_identifier,
    lockedBy: r.locked_by,
    attempts: r.attempts,
  }));
}

/** Withdraw a ticket's queued work (running jobs are left to be fenced by run id). */
export async function withdrawWork(db: Kdb, ticketId: string): Promise<number> {
  const jobs = await pendingWork(db, ticketId, ['r', 'w']);
  for (const j of jobs) await sql`select graphile_worker.remove_job(${j.key})`.execute(db);
  return jobs.length;
}
