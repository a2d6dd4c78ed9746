/**
 * Queries on batches: named groups of tickets the done-oracle judges together.
 */
import type { Selectable } from 'kysely';
import { NotFoundError } from '../errors.js';
import type { Kdb } from './connection.js';
import { mapDbError } from './errors.js';
import type { BatchesTable } from './schema.js';

export type Batch = Selectable<BatchesTable>;

export async function insertBatch(db: Kdb, name: string): Promise<Batch> {
  try {
    return await db
      .insertInto('loopwright.batches')
      .values({ name })
      .returningAll()
      .executeTakeFirstOrThrow();
  } catch (error) {
    throw mapDbError(error);
  }
}

export async function getBatchByName(db: Kdb, name: string): Promise<Batch> {
  const batch = await db
    .selectFrom('loopwright.batches')
    .selectAll()
    .where('name', '=', name)
    .executeTakeFirst();
  if (!batch) throw new NotFoundError('batch', name);
  return batch;
}

export async function listBatches(db: Kdb): Promise<Batch[]> {
  return db.selectFrom('loopwright.batches').selectAll().orderBy('created_at').execute();
}

export interface BatchEvent {
  readonly batchId: string;
  readonly type: 'PINNED' | 'VERIFIER_CHANGED' | 'REPINNED';
  readonly actor: string;
  readonly reason?: string | null;
  readonly pins?: Readonly<Record<string, string>> | null;
  readonly changed?: readonly string[];
}

export async function recordBatchEvent(db: Kdb, e: BatchEvent): Promise<void> {
  await db
    .insertInto('loopwright.batch_events')
    .values({
      batch_id: e.batchId,
      event_type: e.type,
      actor: e.actor,
      reason: e.reason ?? null,
      pins: e.pins ? JSON.stringify(e.pins) : null,
      changed: [...(e.changed ?? [])],
    })
    .execute();
}

export async function listBatchEvents(db: Kdb, batchId: string) {
  return db
    .selectFrom('loopwright.batch_events')
    .selectAll()
    .where('batch_id', '=', batchId)
    .orderBy('id')
    .execute();
}

/** Set (or replace) a batch's pins and reopen it. */
export async function storePins(
  db: Kdb,
  batchId: string,
  pins: Readonly<Record<string, string>>,
): Promise<void> {
  await db
    .updateTable('loopwright.batches')
    .set({ pins: JSON.stringify(pins), pinned_at: new Date(), status: 'open', stop_reason: null })
    .where('id', '=', batchId)
    .execute();
}

export async function stopBatch(db: Kdb, batchId: string, reason: string): Promise<void> {
  await db
    .updateTable('loopwright.batches')
    .set({ status: 'stopped', stop_reason: reason })
    .where('id', '=', batchId)
    .execute();
}

/** Lock a batch row for a pin/repin decision. */
export async function lockBatch(db: Kdb, batchId: string): Promise<Batch> {
  return db
    .selectFrom('loopwright.batches')
    .selectAll()
    .where('id', '=', batchId)
    .forUpdate()
    .executeTakeFirstOrThrow();
}

export interface BatchSummary {
  readonly name: string;
  readonly status: string;
  readonly tickets: number;
  readonly live: number;
  readonly created_at: Date;
}

/** Every batch with how many tickets it holds and how many of those are LIVE. */
export async function listBatchSummaries(db: Kdb): Promise<BatchSummary[]> {
  const rows = await db
    .selectFrom('loopwright.batches as b')
    .leftJoin('loopwright.tickets as t', 't.batch_id', 'b.id')
    .select((eb) => [
      'b.name',
      'b.status',
      'b.created_at',
      eb.fn.count<string>('t.id').as('tickets'),
      eb.fn.count<string>('t.id').filterWhere('t.state', '=', 'LIVE').as('live'),
    ])
    .groupBy(['b.id', 'b.name', 'b.status', 'b.created_at'])
    .orderBy('b.created_at')
    .orderBy('b.id')
    .execute();
  return rows.map((r) => ({ ...r, tickets: Number(r.tickets), live: Number(r.live) }));
}

/** The name of a batch by id, or null. */
export async function batchNameOf(db: Kdb, batchId: string | null): Promise<string | null> {
  if (batchId === null) return null;
  const row = await db
    .selectFrom('loopwright.batches')
    .select('name')
    .where('id', '=', batchId)
    .executeTakeFirst();
  return row?.name ?? null;
}
