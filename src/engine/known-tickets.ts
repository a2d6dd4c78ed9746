/**
 * The rows of recently moved tickets as this process last committed or locked them, so the next
 * event on one can be applied in one statement instead of a lock and a write
 * (src/engine/apply-event.ts). An entry is only a guess: the write that uses it names the row's
 * version and `xmin` (the id of the transaction that wrote that row version, which any change to
 * the row — by any process, `psql` included — moves on) and writes nothing when the row is no
 * longer that one; it returns the row as it is then, which the caller remembers and tries once
 * more on before it takes the locked path. One map per pool, so two databases' tickets never
 * share an entry; the oldest entries go first beyond {@link KNOWN_TICKET_LIMIT}. Rows this
 * process filed, moved, or locked and left as they were are remembered.
 */
import type pg from 'pg';
import type { PersistedSnapshot } from '../db/schema.js';
import type { LockedTicketRow } from '../db/ticket-rows.js';
import { isNumericId, type TicketRef } from '../db/tickets.js';

/** A ticket row, the snapshot kept as its JSON text (each use parses a copy of its own). */
export interface KnownTicket extends Omit<LockedTicketRow, 'snapshot'> {
  readonly snapshotJson: string;
  /** `xmin` of the row version, as text. */
  readonly xmin: string;
}

/** Entries kept per pool: the tickets in flight, with room to spare. */
export const KNOWN_TICKET_LIMIT = 4096;

interface Known {
  readonly byId: Map<string, KnownTicket>;
  readonly idOfKey: Map<string, string>;
}

const POOLS = new WeakMap<pg.Pool, Known>();

function knownOf(pool: pg.Pool): Known {
  let known = POOLS.get(pool);
  if (!known) {
    known = { byId: new Map(), idOfKey: new Map() };
    POOLS.set(pool, known);
  }
  return known;
}

function idOf(known: Known, ref: TicketRef): string | undefined {
  if (typeof ref === 'object') return ref.id;
  return isNumericId(ref) ? ref : known.idOfKey.get(ref);
}

/** The last known row of a ticket, by id or key. */
export function knownTicket(pool: pg.Pool, ref: TicketRef): KnownTicket | undefined {
  const known = POOLS.get(pool);
  if (!known) return undefined;
  const id = idOf(known, ref);
  return id === undefined ? undefined : known.byId.get(id);
}

/**
 * Remember a row this process committed (or read under lock and left as it was). A row older than
 * the one already known is ignored: two events of one ticket may finish out of order.
 */
export function rememberTicket(pool: pg.Pool, row: KnownTicket): void {
  const known = knownOf(pool);
  const current = known.byId.get(row.id);
  if (current && current.version > row.version) return;
  known.byId.delete(row.id);
  known.byId.set(row.id, row);
  known.idOfKey.set(row.key, row.id);
  if (known.byId.size > KNOWN_TICKET_LIMIT) {
    const [oldest] = known.byId.values();
    if (oldest) forgetTicket(pool, oldest);
  }
}

/** Drop a guess that failed (only that one: a newer row remembered meanwhile stays). */
export function forgetTicket(pool: pg.Pool, row: KnownTicket): void {
  const known = POOLS.get(pool);
  if (!known || known.byId.get(row.id) !== row) return;
  known.byId.delete(row.id);
  if (known.idOfKey.get(row.key) === row.id) known.idOfKey.delete(row.key);
}

/** A known row from a locked one (the snapshot as pg parsed it, or as the write sent it). */
export function knownFrom(
  row: LockedTicketRow,
  xmin: string,
  snapshotJson = JSON.stringify(row.snapshot),
): KnownTicket {
  const { snapshot: _snapshot, ...rest } = row;
  return { ...rest, snapshotJson, xmin };
}

/** The locked-row shape of a known ticket, with a snapshot of its own. */
export function lockedRowOf(known: KnownTicket): LockedTicketRow {
  const { snapshotJson, xmin: _xmin, ...rest } = known;
  return { ...rest, snapshot: JSON.parse(snapshotJson) as PersistedSnapshot };
}
