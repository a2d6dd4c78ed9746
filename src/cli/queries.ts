/**
 * Read-only queries only the CLI needs so far. They belong in src/db/<entity>.ts; they live here
 * until the db layer grows them.
 */
import type { Kdb } from '../db/connection.js';

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
  const row = await db.selectFrom('loopwright.batches').select('name').where('id', '=', batchId).executeTakeFirst();
  return row?.name ?? null;
}
