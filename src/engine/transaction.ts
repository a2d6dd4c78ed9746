/**
 * The engine's transaction: READ COMMITTED, as DESIGN.md section 3 specifies. Row locks
 * (`FOR UPDATE`) give the serialization; a deadlock or serialization failure is retried a few
 * times because the whole transaction is safe to run again.
 */
import type { Kdb } from '../db/connection.js';
import { isSerializationFailure, mapDbError } from '../db/errors.js';

const MAX_TRIES = 5;

/** Run `work` in one READ COMMITTED transaction, retrying on deadlock / serialization failure. */
export async function inTransaction<T>(db: Kdb, work: (trx: Kdb) => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await db.transaction().setIsolationLevel('read committed').execute(work);
    } catch (error) {
      if (attempt < MAX_TRIES && isSerializationFailure(error)) continue;
      throw mapDbError(error);
    }
  }
}
