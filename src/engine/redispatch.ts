/**
 * Re-dispatching a run that will never report (its pool died, or shutdown killed its agent)
 * under a fresh run id: the ticket's queued reporting work is withdrawn and a REPLAY re-enters
 * its state, which dispatches the same work anew. The old run keeps its own row, pids and
 * transcript — a retry never overwrites an earlier run.
 */
import { sql } from 'kysely';
import type { Kdb } from '../db/connection.js';
import { getTicket } from '../db/tickets.js';
import { applyEventIn } from './apply-event.js';
import { pendingWork } from './work.js';

/**
 * On the caller's transaction. Does nothing (returns false) when the run is no longer the
 * ticket's current one: then the ticket has moved on and its work is already elsewhere.
 * Keyed `redispatch:<run>`, so calling it twice for one run re-dispatches once.
 */
export async function redispatchRun(
  trx: Kdb,
  ticketId: string,
  runId: string,
  actor: string,
): Promise<boolean> {
  const ticket = await getTicket(trx, { id: ticketId }, { forUpdate: true });
  if (ticket.current_run_id !== runId) return false;
  for (const job of await pendingWork(trx, ticket.id))
    await sql`select graphile_worker.remove_job(${job.key})`.execute(trx);
  const outcome = await applyEventIn(
    trx,
    { id: ticket.id },
    { type: 'REPLAY' },
    { actor, idempotencyKey: `redispatch:${runId}` },
  );
  return outcome.status === 'applied' && !outcome.duplicate;
}
