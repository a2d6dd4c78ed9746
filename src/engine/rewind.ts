/**
 * Rewinding a ticket to an earlier journal row (`loopwright replay <ticket> --from <seq>`).
 * History is never deleted: a new REWIND row is appended carrying the old row's snapshot, and the
 * work that row implied is issued again with fresh run ids (so anything still running from the
 * abandoned branch is fenced out). Queued work of the abandoned branch is withdrawn.
 */
import type { TicketContext } from '../../machines/ticket.js';
import type { Kdb } from '../db/connection.js';
import { getJournalRow } from '../db/journal.js';
import { getTicket, type TicketRef } from '../db/tickets.js';
import { kyselySession } from '../db/tx-session.js';
import { BadInputError } from '../errors.js';
import { commitTicketRow, type CommittedRow } from './commit-row.js';
import { inTransaction } from './transaction.js';
import { withdrawWork } from './work.js';

export interface RewindOptions {
  /** Rewind a LIVE or CANCELLED ticket too (refused without). */
  readonly force?: boolean;
  readonly actor: string;
  readonly reason?: string;
}

export interface RewindOutcome extends CommittedRow {
  readonly rewoundTo: number;
  readonly withdrawnJobs: number;
}

/**
 * Append a row that puts the ticket back where row `toSeq` left it.
 *
 * @example
 * ```ts
 * await rewindTicket(db, 'app-3', 4, {
 *   actor: 'operator:me',
 *   reason: 'validator was misconfigured',
 * });
 * ```
 */
/** States a rewind leaves only when asked with `force`. */
const FINAL_STATES: ReadonlySet<string> = new Set(['LIVE', 'CANCELLED']);

export async function rewindTicket(
  db: Kdb,
  ref: TicketRef,
  toSeq: number,
  options: RewindOptions,
): Promise<RewindOutcome> {
  if (!Number.isInteger(toSeq) || toSeq < 1)
    throw new BadInputError(`--from must be a journal seq (1 or more), got ${toSeq}`);
  return inTransaction(db, async (trx) => {
    const ticket = await getTicket(trx, ref, { forUpdate: true });
    if (FINAL_STATES.has(ticket.state) && !options.force)
      throw new BadInputError(
        `${ticket.key} is ${ticket.state} (final); rewinding brings it back into work — pass ` +
          `--force to do that`,
        { code: 'TICKET_FINAL' },
      );
    if (toSeq >= ticket.version) {
      throw new BadInputError(
        `row ${toSeq} is not earlier than ${ticket.key}'s current row ${ticket.version}; use ` +
          `replay without --from to re-issue current work`,
      );
    }
    const row = await getJournalRow(trx, ticket.id, toSeq);
    if (!row) throw new BadInputError(`${ticket.key} has no journal row ${toSeq}`);
    const withdrawnJobs = await withdrawWork(trx, ticket.id);
    const committed = await commitTicketRow(kyselySession(trx), ticket, {
      eventType: 'REWIND',
      event: { type: 'REWIND', toSeq, ...(options.reason ? { reason: options.reason } : {}) },
      snapshot: row.snapshot,
      context: row.snapshot.context as unknown as TicketContext,
      actions: row.actions,
      actor: options.actor,
      idempotencyKey: null,
    });
    return { ...committed, rewoundTo: toSeq, withdrawnJobs };
  });
}
