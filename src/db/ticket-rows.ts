/**
 * The engine's write of one accepted change, as a single statement: the journal row, the ticket
 * row, the agent run it dispatches and the run it supersedes. One round trip instead of four keeps
 * the lock on the ticket row short (see bench/engine-throughput.ts).
 */
import { sql } from 'kysely';
import type { Kdb } from './connection.js';
import type { QueuedRun } from './runs.js';

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
}

/** Append the journal row and move the ticket (caller holds its row lock). */
export async function writeTicketRow(trx: Kdb, w: TicketRowWrite): Promise<void> {
  const run = w.newRun;
  await sql`
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
    )
    update loopwright.tickets set
      state = ${w.toState}, substate = ${w.substate},
        snapshot = ${JSON.stringify(w.snapshot)}::jsonb, version = ${w.seq}::int,
      current_run_id = ${w.runId}::uuid, updated_at = now(),
      state_changed_at = case when state is distinct from ${w.toState} then now()
        else state_changed_at end
    where id = ${w.ticketId}::bigint`.execute(trx);
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

/** What an idempotency key already produced for this ticket (accepted or rejected), if anything. */
export async function findPriorOutcome(
  trx: Kdb,
  ticketId: string,
  key: string,
): Promise<PriorOutcome | undefined> {
  const { rows } = await sql<PriorOutcome>`
    select 'applied' as kind, seq, from_state as "fromState", to_state as "toState", snapshot,
      actions,
           null as state, null::int as version, null as reason
    from loopwright.ticket_events where ticket_id = ${ticketId}::bigint and idempotency_key = ${key}
    union all
    select 'rejected', null, null, null, null, null, state, version, reason
    from loopwright.rejected_events where ticket_id = ${ticketId}::bigint
      and idempotency_key = ${key}
    limit 1`.execute(trx);
  return rows[0];
}
