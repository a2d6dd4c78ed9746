/**
 * The journal: one append-only row per accepted event, and a record of rejected ones.
 */
import type { Insertable, Selectable } from 'kysely';
import type { Kdb } from './connection.js';
import type { RejectedEventsTable, TicketEventsTable } from './schema.js';

export type JournalRow = Selectable<TicketEventsTable>;
export type RejectedRow = Selectable<RejectedEventsTable>;

/** Append one journal row (the creation row; transitions use src/db/ticket-rows.ts). */
export async function appendJournal(db: Kdb, row: Insertable<TicketEventsTable>): Promise<void> {
  await db.insertInto('loopwright.ticket_events').values(row).execute();
}

export async function recordRejected(db: Kdb, row: Insertable<RejectedEventsTable>): Promise<void> {
  await db.insertInto('loopwright.rejected_events').values(row).execute();
}

/** Every journal row of a ticket, in order. */
export async function readJournal(db: Kdb, ticketId: string): Promise<JournalRow[]> {
  return db
    .selectFrom('loopwright.ticket_events')
    .selectAll()
    .where('ticket_id', '=', ticketId)
    .orderBy('seq')
    .execute();
}

export async function getJournalRow(
  db: Kdb,
  ticketId: string,
  seq: number,
): Promise<JournalRow | undefined> {
  return db
    .selectFrom('loopwright.ticket_events')
    .selectAll()
    .where('ticket_id', '=', ticketId)
    .where('seq', '=', seq)
    .executeTakeFirst();
}

export async function readRejected(db: Kdb, ticketId: string): Promise<RejectedRow[]> {
  return db
    .selectFrom('loopwright.rejected_events')
    .selectAll()
    .where('ticket_id', '=', ticketId)
    .orderBy('id')
    .execute();
}
