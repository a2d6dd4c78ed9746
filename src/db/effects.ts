/**
 * External side effects, keyed `ticket:seq:action`: a retried job finds the recorded result and
 * never repeats the effect (a second merge, a second approved plan).
 */
import { sql } from 'kysely';
import type { Kdb } from './connection.js';

/** The stored result of an effect that already happened, if any. */
export async function effectResult<T>(db: Kdb, key: string): Promise<T | undefined> {
  const row = await db
    .selectFrom('loopwright.effects')
    .select(['result'])
    .where('key', '=', key)
    .where('status', '=', 'done')
    .executeTakeFirst();
  return row ? (row.result as T) : undefined;
}

/** Perform an effect and record its result under its key. */
export async function recordEffect<T>(
  db: Kdb,
  key: string,
  ticketId: string,
  kind: string,
  perform: () => Promise<T>,
): Promise<T> {
  const result = await perform();
  await db
    .insertInto('loopwright.effects')
    .values({
      key,
      ticket_id: ticketId,
      kind,
      status: 'done',
      result: JSON.stringify(result),
      completed_at: sql`now()`,
    })
    .onConflict((oc) =>
      oc
        .column('key')
        .doUpdateSet({ status: 'done', result: JSON.stringify(result), completed_at: sql`now()` }),
    )
    .execute();
  return result;
}
