/**
 * The engine's write of one accepted change, as a single statement: the journal row, the ticket
 * row, the agent run it dispatches, the run it supersedes and the jobs it implies. One round trip
 * instead of five keeps the lock on the ticket row short (see bench/engine-throughput.ts).
 */
import { type RawBuilder, sql } from 'kysely';
import { NotFoundError } from '../errors.js';
import type { Kdb } from './connection.js';
import type { Ticket, TicketRef } from './tickets.js';
import type { QueuedRun } from './runs.js';

/** One graphile-worker job to add (see `addJobs`). */
export interface JobSpec {
  readonly identifier: string;
  readonly payload: Record<string, unknown>;
  readonly job_key: string;
  readonly delay_seconds: number;
  readonly max_attempts: number;
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
  readonly snapshot: unknown;
  readonly actions: unknown;
  readonly runId: string | null;
  /** A queued run that will never report now (its claim moved on). */
  readonly supersededRunId: string | null;
  readonly newRun: QueuedRun | null;
  /** The jobs the change implies, enqueued with graphile_worker.add_jobs in the same statement. */
  readonly jobs: readonly JobSpec[];
}

/**
 * Append the journal row, move the ticket and enqueue its jobs (caller holds its row lock);
 * returns the job ids.
 */
export async function writeTicketRow(trx: Kdb, w: TicketRowWrite): Promise<string[]> {
  const run = w.newRun;
  const { rows } = await sql<{ jobIds: string[] }>`
    with superseded as (
      update loopwright.agent_runs set status = 'superseded'
      where id = ${w.supersededRunId}::uuid and status = 'queued'
    ), new_run as (
      insert into loopwright.agent_runs (id, ticket_id, seq, role, phase, attempt, round, status)
      select ${run?.id ?? null}::uuid, ${w.ticketId}::bigint, ${w.seq}::int,
             ${run?.role ?? null}, ${run?.phase ?? null},
             ${run?.attempt ?? 0}::int, ${run?.round ?? 0}::int, 'queued'
      where ${run !== null}::boolean
    ), journal as (
      insert into loopwright.ticket_events
        (ticket_id, seq, event_type, event, from_state, to_state, actor, idempotency_key,
          snapshot, actions, created_at)
      values (${w.ticketId}::bigint, ${w.seq}::int, ${w.eventType},
              ${JSON.stringify(w.event)}::jsonb, ${w.fromState}, ${w.toState},
              ${w.actor}, ${w.idempotencyKey}, ${JSON.stringify(w.snapshot)}::jsonb,
              ${JSON.stringify(w.actions)}::jsonb,
              -- the moment of the write (after the reads that justified it), not the
              -- transaction's start
              clock_timestamp())
    ), jobs as (${w.jobs.length > 0 ? addJobs(w.jobs) : NO_JOBS})
    update loopwright.tickets set
      state = ${w.toState}, substate = ${w.substate},
        snapshot = ${JSON.stringify(w.snapshot)}::jsonb, version = ${w.seq}::int,
      current_run_id = ${w.runId}::uuid, updated_at = now(),
      state_changed_at = case when state is distinct from ${w.toState} then now()
        else state_changed_at end
    where id = ${w.ticketId}::bigint
    returning array(select id::text from jobs) as "jobIds"`.execute(trx);
  return rows[0]?.jobIds ?? [];
}

/**
 * `graphile_worker.add_jobs` for these specs, as a query returning the job ids (the engine's
 * outbox: it runs in the statement or transaction that records the change).
 */
export function addJobs(jobs: readonly JobSpec[]) {
  return sql<{ id: string }>`
    select j.id from graphile_worker.add_jobs(array(
      select row(s.identifier, s.payload, null, now() + make_interval(secs => s.delay_seconds),
                 s.max_attempts, s.job_key, 0, null)::graphile_worker.job_spec
      from json_to_recordset(${JSON.stringify(jobs)}::json)
        as s(identifier text, payload json, delay_seconds double precision, max_attempts int,
             job_key text)
    )) j`;
}

const NO_JOBS = sql`select null::bigint as id where false`;

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

/** What an idempotency key already produced for this ticket (accepted or rejected), if anything. */
export async function findPriorOutcome(
  trx: Kdb,
  ticketId: string,
  key: string,
): Promise<PriorOutcome | undefined> {
  const { rows } =
    await sql<PriorOutcome>`${priorOutcomeQuery(sql`${ticketId}::bigint`, key)}`.execute(trx);
  return rows[0];
}

function priorOutcomeQuery(ticketId: RawBuilder<unknown>, key: string) {
  return sql<PriorOutcome>`
    select 'applied' as kind, seq, from_state as "fromState", to_state as "toState", snapshot,
           actions, null as state, null::int as version, null as reason
    from loopwright.ticket_events where ticket_id = ${ticketId} and idempotency_key = ${key}
    union all
    select 'rejected', null, null, null, null, null, state, version, reason
    from loopwright.rejected_events where ticket_id = ${ticketId} and idempotency_key = ${key}
    limit 1`;
}

const priorAsJson = (key: string) =>
  sql`(select row_to_json(p) from (${priorOutcomeQuery(sql`t.id`, key)}) p)`;

export interface LockedTicket {
  readonly ticket: Ticket;
  /** What the idempotency key already produced, read in the same statement as the lock. */
  readonly prior: PriorOutcome | undefined;
}

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
 * const { ticket, prior } = await lockTicket(trx, 'app-12', 'result:4f2a...');
 * ```
 */
export async function lockTicket(
  trx: Kdb,
  ref: TicketRef,
  key: string | null,
): Promise<LockedTicket> {
  const where =
    typeof ref === 'object'
      ? sql`t.id = ${ref.id}::bigint`
      : /^\d+$/.test(ref)
        ? sql`t.id = ${ref}::bigint`
        : sql`t.key = ${ref}`;
  const { rows } = await sql<Ticket & { seen_version: number; prior: PriorOutcome | null }>`
    select t.*,
      (select s.version from loopwright.tickets s where s.id = t.id) as seen_version,
      ${key === null ? sql`null::json` : priorAsJson(key)} as prior
    from loopwright.tickets t where ${where} for update of t`.execute(trx);
  const row = rows[0];
  if (!row) throw new NotFoundError('ticket', typeof ref === 'object' ? `#${ref.id}` : ref);
  const { seen_version: seen, prior, ...ticket } = row;
  if (key !== null && seen !== ticket.version)
    return { ticket, prior: await findPriorOutcome(trx, ticket.id, key) };
  return { ticket, prior: prior ?? undefined };
}
