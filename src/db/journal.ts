/**
 * The journal: one append-only row per accepted event, and a record of rejected ones.
 */
import { type Selectable, sql } from 'kysely';
import type { Kdb } from './connection.js';
import type { RejectedEventsTable, TicketEventsTable } from './schema.js';
import type { Statement } from './tx-session.js';

export type JournalRow = Selectable<TicketEventsTable>;
export type RejectedRow = Selectable<RejectedEventsTable>;

/** A refused event (the engine records it as its transaction's last statement). */
export interface RejectedEvent {
  readonly ticketId: string;
  readonly eventType: string;
  readonly event: unknown;
  readonly state: string;
  readonly version: number;
  readonly actor: string;
  readonly reason: string;
  readonly idempotencyKey: string | null;
}

/** The insert that records a refused event. */
export function recordRejectedStatement(r: RejectedEvent): Statement {
  return {
    name: 'lw_record_rejected',
    text: `insert into loopwright.rejected_events
      (ticket_id, event_type, event, state, version, actor, reason, idempotency_key)
      values ($1::bigint, $2, $3::jsonb, $4, $5::int, $6, $7, $8)`,
    values: [
      r.ticketId,
      r.eventType,
      JSON.stringify(r.event),
      r.state,
      r.version,
      r.actor,
      r.reason,
      r.idempotencyKey,
    ],
  };
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

/** Which of `runIds` an accepted event of the ticket names: runs whose outcome was journaled. */
export async function runsWithEvents(
  db: Kdb,
  ticketId: string,
  runIds: readonly string[],
): Promise<Set<string>> {
  if (runIds.length === 0) return new Set();
  const rows = await db
    .selectFrom('loopwright.ticket_events')
    .select(sql<string>`event->>'runId'`.as('run'))
    .where('ticket_id', '=', ticketId)
    .where(sql<string>`event->>'runId'`, 'in', [...runIds])
    .execute();
  return new Set(rows.map((r) => r.run));
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
