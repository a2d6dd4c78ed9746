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
    return await db.insertInto('loopwright.batches').values({ name }).returningAll().executeTakeFirstOrThrow();
  } catch (error) {
    throw mapDbError(error);
  }
}

export async function getBatchByName(db: Kdb, name: string): Promise<Batch> {
  const batch = await db.selectFrom('loopwright.batches').selectAll().where('name', '=', name).executeTakeFirst();
  if (!batch) throw new NotFoundError('batch', name);
  return batch;
}

export async function listBatches(db: Kdb): Promise<Batch[]> {
  return db.selectFrom('loopwright.batches').selectAll().orderBy('created_at').execute();
}
