/**
 * The engine's statements: the lock with its idempotency look-up, and the write of one accepted
 * change as a single statement (the journal row, the ticket row, the agent run it dispatches, the
 * run it supersedes and the jobs it implies). Each is prepared once per connection; one write
 * instead of five keeps the lock on the ticket row short (see bench/engine-throughput.ts). The
 * fenced write is the same change without a lock before it: it moves the row only if the row is
 * still the version the caller last saw (src/engine/known-tickets.ts).
 */
import { NotFoundError } from '../errors.js';
import { isNumericId, type Ticket, type TicketRef } from './tickets.js';
import type { QueuedRun } from './runs.js';
import type { Statement, TxSession } from './tx-session.js';
import { ADD_JOBS_QUIET } from './worker-tuning.js';

/** The columns of a ticket the engine reads to judge an event (alias `t`), with its `xmin`. */
const LOCKED_COLUMNS = `t.id, t.key, t.state, t.substate, t.snapshot, t.version,
    t.current_run_id, t.xmin::text as xmin`;

/** One graphile-worker job to add (see `addJobs`). */
export interface JobSpec {
  readonly identifier: string;
  readonly payload: Record<string, unknown>;
  readonly job_key: string;
  readonly delay_seconds: number;
  readonly max_attempts: number;
  /** graphile-worker's priority: lower runs first (0 for work a ticket waits on). */
  readonly priority: number;
}

export interface TicketRowWrite {
  readonly ticketId: string;
  readonly seq: number;
  readonly eventType: string;
  readonly event: unknown;
  readonly fromState: string;
  readonly toState: string;
  readonly substate: string | null;
  readonly actor: string;
  readonly idempotencyKey: string | null;
  /** The snapshot as JSON text (serialised once: the caller keeps it too). */
  readonly snapshotJson: string;
  readonly actions: unknown;
  readonly runId: string | null;
  /** A queued run that will never report now (its claim moved on). */
  readonly supersededRunId: string | null;
  readonly newRun: QueuedRun | null;
  /** The jobs the change implies, enqueued with graphile_worker.add_jobs in the same statement. */
  readonly jobs: readonly JobSpec[];
}

/** What a write returns: the new row version's `xmin` and the ids of the jobs it added. */
export interface WrittenRow {
  readonly xmin: string;
  readonly jobIds: string[];
}

/**
 * What a fenced write returns: the written row, or — when it wrote nothing — the ticket row as
 * it stood (null when there is none) and whether the idempotency key already has an outcome.
 */
export type FencedWrite =
  | (WrittenRow & { readonly current: null; readonly answered: false })
  | {
      readonly xmin: null;
      readonly jobIds: null;
      readonly current: (LockedTicketRow & { readonly xmin: string }) | null;
      readonly answered: boolean;
    };

/**
 * Append the journal row, move the ticket and enqueue its jobs (caller holds its row lock): the
 * statement returns one {@link WrittenRow}. The snapshot is sent once and stored twice.
 */
export function writeTicketRowStatement(w: TicketRowWrite): Statement {
  const jobs = w.jobs.length > 0;
  return {
    name: jobs ? 'lw_write_ticket_row_jobs' : 'lw_write_ticket_row',
    text: jobs ? WRITE_WITH_JOBS : WRITE_WITHOUT_JOBS,
    values: writeValues(w),
  };
}

/**
 * The same write with no lock held: it changes nothing unless the ticket row is still the version
 * before `w.seq` with this `xmin` — no other write, by loopwright or anyone else, came between —
 * and the idempotency key has no outcome yet. A row that is locked meanwhile is waited for and
 * then re-checked, so a concurrent writer makes it write nothing. Returns one
 * {@link FencedWrite}: what it wrote, or the row as it found it (to try again on).
 */
export function fencedWriteTicketRowStatement(w: TicketRowWrite, xmin: string): Statement {
  const jobs = w.jobs.length > 0;
  return {
    name: jobs ? 'lw_fenced_write_ticket_row_jobs' : 'lw_fenced_write_ticket_row',
    text: jobs ? FENCED_WITH_JOBS : FENCED_WITHOUT_JOBS,
    values: [...writeValues(w), xmin],
  };
}

function writeValues(w: TicketRowWrite): unknown[] {
  const run = w.newRun;
  return [
    w.supersededRunId,
    run?.id ?? null,
    w.ticketId,
    w.seq,
    run?.role ?? null,
    run?.phase ?? null,
    run?.attempt ?? 0,
    run?.round ?? 0,
    run !== null,
    w.eventType,
    JSON.stringify(w.event),
    w.fromState,
    w.toState,
    w.actor,
    w.idempotencyKey,
    w.snapshotJson,
    JSON.stringify(w.actions),
    w.substate,
    w.runId,
    ...(w.jobs.length > 0 ? [JSON.stringify(w.jobs)] : []),
  ];
}

/** The run the change supersedes; `also` adds a condition. */
const supersededText = (also = '') => `
    update loopwright.agent_runs set status = 'superseded'
    where id = $1::uuid and status = 'queued'${also}`;

/** The run the change dispatches; `from` is the row source the insert is gated on. */
const newRunText = (from?: string) => `
    insert into loopwright.agent_runs (id, ticket_id, seq, role, phase, attempt, round, status)
    select $2::uuid, $3::bigint, $4::int, $5, $6, $7::int, $8::int, 'queued'
    ${from ? `from ${from} ` : ''}where $9::boolean`;

/** The journal row; `from` is the row source the insert is gated on. */
const journalText = (from?: string) => `
    insert into loopwright.ticket_events
      (ticket_id, seq, event_type, event, from_state, to_state, actor, idempotency_key,
        snapshot, actions, created_at)
    select $3::bigint, $4::int, $10, $11::jsonb, $12, $13, $14, $15, $16::jsonb, $17::jsonb,
           -- the moment of the write (after the reads that justified it), not the
           -- transaction's start
           clock_timestamp()
    ${from ? `from ${from}` : ''}`;

/** The ticket row's new values. */
const TICKET_SET = `
    state = $13, substate = $18, snapshot = $16::jsonb, version = $4::int,
    current_run_id = $19::uuid, updated_at = now(),
    state_changed_at = case when state is distinct from $13 then now() else state_changed_at end`;

/** Whether the idempotency key (`$15`) already has an outcome for the ticket. */
const KEY_ANSWERED = `exists (
      select from loopwright.ticket_events e
      where e.ticket_id = $3::bigint and e.idempotency_key = $15::text
      union all
      select from loopwright.rejected_events r
      where r.ticket_id = $3::bigint and r.idempotency_key = $15::text)`;

const writeTicketRowText = (jobs: string) => `
  with superseded as (${supersededText()}
  ), new_run as (${newRunText()}
  ), journal as (${journalText()}
  ), jobs as (${jobs})
  update loopwright.tickets set ${TICKET_SET}
  where id = $3::bigint
  returning xmin::text as xmin, array(select id::text from jobs) as "jobIds"`;

/**
 * The fenced write: the ticket's update comes first (as `moved`) and every other part runs only
 * when it moved the row. `$xmin` names the parameter holding the row version's `xmin`.
 */
const fencedWriteText = (jobs: string, xmin: string) => `
  with moved as (
    update loopwright.tickets set ${TICKET_SET}
    where id = $3::bigint and version = $4::int - 1 and xmin = ${xmin}::xid
      and ($15::text is null or not ${KEY_ANSWERED})
    returning xmin::text as xmin
  ), superseded as (${supersededText(' and exists (select from moved)')}
  ), new_run as (${newRunText('moved')}
  ), journal as (${journalText('moved')}
  ), jobs as (${jobs})
  select m.xmin, array(select id::text from jobs) as "jobIds", null::json as current,
         false as answered
  from moved m
  union all
  -- Nothing moved: the row as this statement sees it, and whether the key has an outcome.
  select null, null,
    (select row_to_json(c) from (
      select ${LOCKED_COLUMNS} from loopwright.tickets t where t.id = $3::bigint) c),
    $15::text is not null and ${KEY_ANSWERED}
  where not exists (select from moved)`;

/**
 * add_jobs on the job specs of parameter `param` (a JSON array of {@link JobSpec}); `from` is a
 * row source it runs once per row of (none: once). The engine's writes call the quiet copy
 * (src/db/worker-tuning.ts) and announce the jobs after their commit (src/db/announce.ts).
 */
export const addJobsText = (param: string, from?: string, fn = 'graphile_worker.add_jobs') => `
  select j.id from ${from ? `${from} cross join lateral ` : ''}${fn}(array(
    select row(s.identifier, s.payload, null, now() + make_interval(secs => s.delay_seconds),
               s.max_attempts, s.job_key, s.priority, null)::graphile_worker.job_spec
    from json_to_recordset(${param}::json)
      as s(identifier text, payload json, delay_seconds double precision, max_attempts int,
           job_key text, priority int)
  )) j`;

/** The jobs of an engine write: added without a NOTIFY, announced after the commit. */
export const quietAddJobsText = (param: string, from?: string) =>
  addJobsText(param, from, ADD_JOBS_QUIET);

const WRITE_WITH_JOBS = writeTicketRowText(quietAddJobsText('$20'));
/** The `jobs` of a statement that enqueues none. */
export const NO_JOBS_TEXT = 'select null::bigint as id where false';
const WRITE_WITHOUT_JOBS = writeTicketRowText(NO_JOBS_TEXT);
const FENCED_WITH_JOBS = fencedWriteText(quietAddJobsText('$20', 'moved'), '$21');
const FENCED_WITHOUT_JOBS = fencedWriteText(NO_JOBS_TEXT, '$20');

/**
 * `graphile_worker.add_jobs` for these specs, as a query returning the job ids (the engine's
 * outbox: it runs in the statement or transaction that records the change).
 */
export function addJobsStatement(jobs: readonly JobSpec[]): Statement {
  return { name: 'lw_add_jobs', text: addJobsText('$1'), values: [JSON.stringify(jobs)] };
}

export interface PriorOutcome {
  readonly kind: 'applied' | 'rejected';
  readonly seq: number | null;
  readonly fromState: string | null;
  readonly toState: string | null;
  readonly snapshot: { value: unknown } | null;
  readonly actions: unknown;
  readonly state: string | null;
  readonly version: number | null;
  readonly reason: string | null;
}

/** `$ticket` and `$key` name the parameters; the statement returns at most one row. */
const priorOutcomeText = (ticket: string, key: string) => `
  select 'applied' as kind, seq, from_state as "fromState", to_state as "toState", snapshot,
         actions, null as state, null::int as version, null as reason
  from loopwright.ticket_events where ticket_id = ${ticket} and idempotency_key = ${key}
  union all
  select 'rejected', null, null, null, null, null, state, version, reason
  from loopwright.rejected_events where ticket_id = ${ticket} and idempotency_key = ${key}
  limit 1`;

/** What an idempotency key already produced for this ticket (accepted or rejected), if anything. */
export async function findPriorOutcome(
  session: TxSession,
  ticketId: string,
  key: string,
): Promise<PriorOutcome | undefined> {
  const rows = await session.query<PriorOutcome>({
    name: 'lw_prior_outcome',
    text: priorOutcomeText('$1::bigint', '$2'),
    values: [ticketId, key],
  });
  return rows[0];
}

/** The columns of a ticket the engine reads under its lock. */
export type LockedTicketRow = Pick<
  Ticket,
  'id' | 'key' | 'state' | 'substate' | 'snapshot' | 'version' | 'current_run_id'
>;

export interface LockedTicket {
  readonly ticket: LockedTicketRow;
  /** `xmin` of the locked row version (see {@link fencedWriteTicketRowStatement}). */
  readonly xmin: string;
  /** What the idempotency key already produced, read in the same statement as the lock. */
  readonly prior: PriorOutcome | undefined;
}

const lockText = (where: string, prior: string) => `
  select ${LOCKED_COLUMNS},
    (select s.version from loopwright.tickets s where s.id = t.id) as seen_version,
    ${prior} as prior
  from loopwright.tickets t where ${where} for update of t`;

const LOCK_STATEMENTS = {
  id: lockText('t.id = $1::bigint', 'null::json'),
  key: lockText('t.key = $1', 'null::json'),
  idWithKey: lockText(
    't.id = $1::bigint',
    `(select row_to_json(p) from (${priorOutcomeText('t.id', '$2')}) p)`,
  ),
  keyWithKey: lockText(
    't.key = $1',
    `(select row_to_json(p) from (${priorOutcomeText('t.id', '$2')}) p)`,
  ),
} as const;

/**
 * Lock a ticket's row (`FOR UPDATE`) and look up an idempotency key in one round trip.
 *
 * The look-up reads the statement's snapshot, taken before any wait for the lock; a writer that
 * held the lock meanwhile may have journaled the key. So when the locked row is newer than the
 * one the snapshot shows, the key is looked up again (now visible). A writer that held the lock
 * without changing the row can only have recorded the same refusal, which the unique key on
 * `rejected_events` turns into a retried transaction (src/engine/transaction.ts).
 *
 * @example
 * ```ts
 * const { ticket, prior } = await lockTicket(session, 'app-12', 'result:4f2a...');
 * ```
 */
export async function lockTicket(
  session: TxSession,
  ref: TicketRef,
  key: string | null,
): Promise<LockedTicket> {
  const byId = typeof ref === 'object' || isNumericId(ref);
  const which = `${byId ? 'id' : 'key'}${key === null ? '' : 'WithKey'}` as const;
  const rows = await session.query<
    LockedTicketRow & { xmin: string; seen_version: number; prior: PriorOutcome | null }
  >({
    name: `lw_lock_ticket_${which}`,
    text: LOCK_STATEMENTS[which],
    values: [typeof ref === 'object' ? ref.id : ref, ...(key === null ? [] : [key])],
  });
  const row = rows[0];
  if (!row) throw new NotFoundError('ticket', typeof ref === 'object' ? `#${ref.id}` : ref);
  const { seen_version: seen, prior, xmin, ...ticket } = row;
  if (key !== null && seen !== ticket.version)
    return { ticket, xmin, prior: await findPriorOutcome(session, ticket.id, key) };
  return { ticket, xmin, prior: prior ?? undefined };
}
