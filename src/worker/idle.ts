/**
 * "No ticket can move": nothing is queued or running in graphile-worker except timers and merge
 * jobs waiting to look at a dirty user checkout again (`:wait` keys not yet due: the user must
 * act; a due one runs and may find it clean), and no QUEUED ticket is
 * ready. Everything else is final, escalated, dead-lettered, blocked on those, waiting for an
 * operator (copilot approval) or the user's checkout — or stuck with lost work, which `v_stuck`
 * shows and
 * `loopwright replay` fixes.
 */
import { sql } from 'kysely';
import type { Kdb } from '../db/connection.js';
import { readyTickets } from '../scheduler/ready-set.js';

export async function isIdle(db: Kdb): Promise<boolean> {
  const { rows } = await sql<{ pending: number }>`
    select count(*)::int as pending from graphile_worker.jobs
    where attempts < max_attempts
      and (key is null or key not like 'lw:%:t:%')
      and (key is null or key not like 'lw:%:wait' or run_at <= now())`.execute(db);
  if ((rows[0]?.pending ?? 0) > 0) return false;
  return (await readyTickets(db, 1)).length === 0;
}
