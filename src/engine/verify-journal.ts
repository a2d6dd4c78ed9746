/**
 * verify-journal: recompute every snapshot from the journal's events through the current machine
 * and name the first row that differs (a Temporal-style determinism check). It catches hand-edited
 * rows, gaps in seq, and machine changes that would make old journals replay differently.
 */
import { initialTransition, transition } from 'xstate';
import {
  ticketEventSchema,
  ticketMachine,
  topState,
  type TicketInput,
} from '../../machines/ticket.js';
import type { Kdb } from '../db/connection.js';
import { readJournal, type JournalRow } from '../db/journal.js';
import type { PersistedSnapshot } from '../db/schema.js';
import { getTicket, type Ticket, type TicketRef } from '../db/tickets.js';
import { canonicalJson, persistSnapshot, restoreSnapshot } from './snapshot.js';
import { workActionsOf } from './work.js';

export interface JournalMismatch {
  readonly ticket: string;
  readonly seq: number;
  readonly problem: string;
  readonly expected?: unknown;
  readonly actual?: unknown;
}

export interface VerifyResult {
  readonly tickets: number;
  readonly rows: number;
  /** The first mismatch of each ticket that has one. */
  readonly mismatches: readonly JournalMismatch[];
}

/**
 * Verify one ticket, or every ticket when `ref` is omitted.
 *
 * @example
 * ```ts
 * const { mismatches } = await verifyJournal(db);
 * if (mismatches.length) console.error(mismatches[0]);
 * ```
 */
export async function verifyJournal(db: Kdb, ref?: TicketRef): Promise<VerifyResult> {
  const tickets = ref
    ? [await getTicket(db, ref)]
    : await db.selectFrom('loopwright.tickets').selectAll().orderBy('id').execute();
  let rows = 0;
  const mismatches: JournalMismatch[] = [];
  for (const ticket of tickets) {
    const journal = await readJournal(db, ticket.id);
    rows += journal.length;
    const mismatch = verifyTicket(ticket, journal);
    if (mismatch) mismatches.push(mismatch);
  }
  return { tickets: tickets.length, rows, mismatches };
}

/** The first mismatch in one ticket's journal, or null when it replays exactly. */
export function verifyTicket(
  ticket: Ticket,
  journal: readonly JournalRow[],
): JournalMismatch | null {
  const recomputed: Replayed[] = [];
  for (const [index, row] of journal.entries()) {
    const fail = (problem: string, expected?: unknown, actual?: unknown): JournalMismatch => ({
      ticket: ticket.key,
      seq: row.seq,
      problem,
      expected,
      actual,
    });
    if (row.seq !== index + 1)
      return fail(`journal gap: expected seq ${index + 1}`, index + 1, row.seq);
    const step = recompute(row, recomputed);
    if ('error' in step) return fail(step.error);
    if (canonicalJson(step.snapshot) !== canonicalJson(row.snapshot)) {
      return fail('stored snapshot differs from the replayed one', step.snapshot, row.snapshot);
    }
    if (topState(step.snapshot.value) !== row.to_state)
      return fail(
        'to_state differs from the replayed state',
        topState(step.snapshot.value),
        row.to_state,
      );
    if (canonicalJson(step.actions) !== canonicalJson(row.actions))
      return fail('stored actions differ from the replayed ones', step.actions, row.actions);
    recomputed.push(step);
  }
  const last = journal.at(-1);
  if (!last) return { ticket: ticket.key, seq: 0, problem: 'ticket has no journal rows' };
  if (ticket.version !== last.seq)
    return {
      ticket: ticket.key,
      seq: last.seq,
      problem: `ticket version ${ticket.version} does not match the last row`,
    };
  if (canonicalJson(ticket.snapshot) !== canonicalJson(last.snapshot)) {
    return {
      ticket: ticket.key,
      seq: last.seq,
      problem: "ticket's current snapshot differs from its last journal row",
      expected: last.snapshot,
      actual: ticket.snapshot,
    };
  }
  return null;
}

interface Replayed {
  readonly snapshot: PersistedSnapshot;
  readonly actions: unknown;
}
type Step = Replayed | { error: string };

function recompute(row: JournalRow, before: readonly Replayed[]): Step {
  const event = row.event as { type?: string; input?: TicketInput; toSeq?: number };
  if (row.seq === 1) {
    if (event.type !== 'CREATED')
      return { error: `row 1 must be CREATED, found ${String(event.type)}` };
    const [snapshot, actions] = initialTransition(ticketMachine, event.input ?? {});
    return { snapshot: persistSnapshot(snapshot), actions: workActionsOf(actions) };
  }
  if (event.type === 'REWIND') {
    const target = typeof event.toSeq === 'number' ? before[event.toSeq - 1] : undefined;
    if (!target) return { error: `REWIND names row ${String(event.toSeq)}, which is not earlier` };
    return target;
  }
  const parsed = ticketEventSchema.safeParse(row.event);
  if (!parsed.success)
    return {
      error: `event is not valid for the current machine: ${parsed.error.issues[0]?.message}`,
    };
  const [snapshot, actions] = transition(
    ticketMachine,
    restoreSnapshot(before.at(-1)!.snapshot),
    parsed.data,
  );
  return { snapshot: persistSnapshot(snapshot), actions: workActionsOf(actions) };
}
