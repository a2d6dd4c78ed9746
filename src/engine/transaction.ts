/**
 * The engine's transaction: READ COMMITTED, as DESIGN.md section 3 specifies. Row locks
 * (`FOR UPDATE`) give the serialization; a deadlock or serialization failure is retried a few
 * times because the whole transaction is safe to run again.
 */
import { type Kdb, poolOf } from '../db/connection.js';
import { isSerializationFailure, mapDbError } from '../db/errors.js';
import { inPipelinedTransaction, kyselySession, type TxSession } from '../db/tx-session.js';

const MAX_TRIES = 5;

/** Run `work` in one READ COMMITTED transaction, retrying on deadlock / serialization failure. */
export async function inTransaction<T>(db: Kdb, work: (trx: Kdb) => Promise<T>): Promise<T> {
  return retried(() => db.transaction().setIsolationLevel('read committed').execute(work));
}

/**
 * The same as a {@link TxSession}: on a pipelined client of the handle's pool (BEGIN and COMMIT
 * ride with the first and last statements), or on a kysely transaction for a handle whose pool
 * is not known.
 */
export async function inSession<T>(db: Kdb, work: (session: TxSession) => Promise<T>): Promise<T> {
  const pool = poolOf(db);
  if (!pool) return inTransaction(db, (trx) => work(kyselySession(trx)));
  return retried(() => inPipelinedTransaction(pool, work));
}

async function retried<T>(attempt: () => Promise<T>): Promise<T> {
  for (let tries = 1; ; tries++) {
    try {
      return await attempt();
    } catch (error) {
      if (tries < MAX_TRIES && isSerializationFailure(error)) continue;
      throw mapDbError(error);
    }
  }
}
