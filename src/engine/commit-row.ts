/**
 * Writing one accepted change of a locked ticket: the journal row (seq = version + 1), the ticket
 * row, the agent run it dispatches, and its jobs — one statement, the transaction's last (a
 * session that owns its transaction sends COMMIT with it, and the announcement of the change
 * after that: src/db/announce.ts).
 */
import type { TicketContext } from '../../machines/ticket.js';
import { subState, topState } from '../../machines/ticket.js';
import { announceStatement } from '../db/announce.js';
import type { Kdb } from '../db/connection.js';
import {
  type LockedTicketRow,
  type TicketRowWrite,
  type WrittenRow,
  writeTicketRowStatement,
} from '../db/ticket-rows.js';
import type { PersistedSnapshot, StoredAction } from '../db/schema.js';
import type { TxSession } from '../db/tx-session.js';
import type { KnownTicket } from './known-tickets.js';
import { planWork, workActionsOf } from './work.js';

export interface RowChange {
  readonly eventType: string;
  readonly event: Record<string, unknown>;
  readonly snapshot: PersistedSnapshot;
  readonly context: TicketContext;
  /** Actions as xstate returned them (assigns already applied) or as a journal row stored them. */
  readonly actions: readonly { type: string; params?: unknown }[];
  readonly actor: string;
  readonly idempotencyKey: string | null;
  /** Runs after the write, before the commit (which then is not sent with the write). */
  readonly afterWrite?: ((trx: Kdb) => Promise<void>) | undefined;
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

/** A change worked out against a ticket row: the write, and what it leaves once it commits. */
export interface PlannedRow {
  readonly write: TicketRowWrite;
  /** The outcome, less the ids of the jobs the write adds. */
  readonly outcome: Omit<CommittedRow, 'jobIds'>;
  /** The ticket row as the write leaves it, to remember (src/engine/known-tickets.ts). */
  readonly next: Omit<KnownTicket, 'xmin'>;
}

/** Work out the write of `change` to `ticket` (pure: nothing is sent). */
export function planTicketRow(ticket: LockedTicketRow, change: RowChange): PlannedRow {
  const seq = ticket.version + 1;
  const toState = topState(change.snapshot.value);
  const substate = subState(change.snapshot.value);
  const actions = workActionsOf(change.actions);
  const work = planWork(ticket.id, seq, actions, change.context);
  const samePlace = toState === ticket.state && substate === ticket.substate;
  const runId = work.runId ?? (samePlace ? ticket.current_run_id : null);
  // Serialised once, for the write and the remembered row (JSON drops what jsonb could not
  // store anyway).
  const snapshotJson = JSON.stringify(change.snapshot);
  const write: TicketRowWrite = {
    ticketId: ticket.id,
    seq,
    eventType: change.eventType,
    event: change.event,
    fromState: ticket.state,
    toState,
    substate,
    actor: change.actor,
    idempotencyKey: change.idempotencyKey,
    snapshotJson,
    actions,
    runId,
    supersededRunId: runId !== ticket.current_run_id ? ticket.current_run_id : null,
    newRun: work.agentRun ? { ...work.agentRun, ticket_id: ticket.id, seq } : null,
    jobs: work.jobs,
  };
  const { key } = ticket;
  return {
    write,
    outcome: {
      ticketId: ticket.id,
      key,
      seq,
      fromState: ticket.state,
      toState,
      substate,
      runId,
      actions,
    },
    next: {
      id: ticket.id,
      key,
      state: toState,
      substate,
      version: seq,
      current_run_id: runId,
      snapshotJson,
    },
  };
}

/** Append the change to a ticket whose row the caller holds `FOR UPDATE`. */
export async function commitTicketRow(
  session: TxSession,
  ticket: LockedTicketRow,
  change: RowChange,
): Promise<CommittedRow> {
  return (await commitPlannedRow(session, planTicketRow(ticket, change), change.afterWrite))
    .committed;
}

/** Write a planned change (the row locked); `known` is the row it leaves, to remember. */
export async function commitPlannedRow(
  session: TxSession,
  plan: PlannedRow,
  afterWrite?: (trx: Kdb) => Promise<void>,
): Promise<{ committed: CommittedRow; known: KnownTicket }> {
  const statement = writeTicketRowStatement(plan.write);
  const announce = announceStatement(plan.write.ticketId, plan.write.jobs.length);
  const [row] = afterWrite
    ? await session.query<WrittenRow>(statement)
    : await session.queryAndCommit<WrittenRow>(statement, announce);
  if (afterWrite) {
    await afterWrite(session.kdb);
    // The commit comes after the seam: announced inside, delivered at the commit.
    await session.query(announce);
  }
  if (!row) throw new Error(`ticket #${plan.write.ticketId} vanished under its lock`);
  return {
    committed: { ...plan.outcome, jobIds: row.jobIds },
    known: { ...plan.next, xmin: row.xmin },
  };
}
