/**
 * Writing one accepted change of a locked ticket: the journal row (seq = version + 1), the ticket
 * row, the agent run it dispatches, and its jobs — all on the caller's transaction.
 */
import type { TicketContext } from '../../machines/ticket.js';
import { subState, topState } from '../../machines/ticket.js';
import type { Kdb } from '../db/connection.js';
import { appendJournal } from '../db/journal.js';
import { insertQueuedRun, supersedeQueuedRun } from '../db/runs.js';
import type { PersistedSnapshot, StoredAction } from '../db/schema.js';
import type { Ticket } from '../db/tickets.js';
import { enqueueJobs, planWork, workActionsOf } from './work.js';

export interface RowChange {
  readonly eventType: string;
  readonly event: Record<string, unknown>;
  readonly snapshot: PersistedSnapshot;
  readonly context: TicketContext;
  /** Actions as xstate returned them (assigns already applied) or as a journal row stored them. */
  readonly actions: readonly { type: string; params?: unknown }[];
  readonly actor: string;
  readonly idempotencyKey: string | null;
  readonly beforeEnqueue?: ((trx: Kdb) => Promise<void>) | undefined;
}

export interface CommittedRow {
  readonly ticketId: string;
  readonly key: string;
  readonly seq: number;
  readonly fromState: string | null;
  readonly toState: string;
  readonly substate: string | null;
  /** The run the next result must carry (null when no work is out). */
  readonly runId: string | null;
  readonly jobIds: readonly string[];
  readonly actions: readonly StoredAction[];
}

/** Append the change to a ticket whose row the caller holds `FOR UPDATE`. */
export async function commitTicketRow(trx: Kdb, ticket: Ticket, change: RowChange): Promise<CommittedRow> {
  const seq = ticket.version + 1;
  const toState = topState(change.snapshot.value);
  const substate = subState(change.snapshot.value);
  const actions = workActionsOf(change.actions);
  const work = planWork(ticket.id, seq, actions, change.context);
  const samePlace = toState === ticket.state && substate === ticket.substate;
  const runId = work.runId ?? (samePlace ? ticket.current_run_id : null);

  if (runId !== ticket.current_run_id && ticket.current_run_id) await supersedeQueuedRun(trx, ticket.current_run_id);
  if (work.agentRun) await insertQueuedRun(trx, { ...work.agentRun, ticket_id: ticket.id, seq });
  await appendJournal(trx, {
    ticket_id: ticket.id,
    seq,
    event_type: change.eventType,
    event: JSON.stringify(change.event),
    from_state: ticket.state,
    to_state: toState,
    actor: change.actor,
    idempotency_key: change.idempotencyKey,
    snapshot: JSON.stringify(change.snapshot),
    actions: JSON.stringify(actions),
  });
  await trx
    .updateTable('loopwright.tickets')
    .set((eb) => ({
      state: toState,
      substate,
      snapshot: JSON.stringify(change.snapshot),
      version: seq,
      current_run_id: runId,
      updated_at: eb.fn('now', []),
      ...(toState !== ticket.state ? { state_changed_at: eb.fn('now', []) } : {}),
    }))
    .where('id', '=', ticket.id)
    .execute();
  if (change.beforeEnqueue) await change.beforeEnqueue(trx);
  const jobIds = await enqueueJobs(trx, work.jobs);
  return { ticketId: ticket.id, key: ticket.key, seq, fromState: ticket.state, toState, substate, runId, jobIds, actions };
}
