/**
 * One scheduling pass: start as many ready tickets as the limits allow. Passes are serialized
 * across every process on the database by a transaction-scoped advisory lock, so two schedulers
 * never both see a free slot and both fill it.
 */
import { sql } from 'kysely';
import type { Kdb } from '../db/connection.js';
import { applyEventIn } from '../engine/apply-event.js';
import { inTransaction } from '../engine/transaction.js';
import { TASKS } from '../engine/work.js';
import { checkTripwires, ensureBatchPinned } from '../oracle/tripwire.js';
import { occupancy, readyTickets } from './ready-set.js';

/** "lw" + "sch": the scheduler's advisory lock. */
const SCHEDULER_LOCK_KEY = 0x6c77736368;

/** The tasks whose job is one scheduling pass (src/worker/tasks.ts). */
const PASS_TASKS = [TASKS.requestSchedule, TASKS.notifyDependents];

/**
 * Complete the passes still waiting in the queue, before this one reads anything: every request
 * they answer was committed before now, so the pass starting now sees what they would. (Filing
 * eight tickets queues eight passes; on a busy worker they ran one by one ahead of the first
 * agent's start.) A request committed later keeps its job and gets a pass of its own. Jobs a
 * worker holds, and retries not yet due, are left alone. Returns how many were absorbed.
 */
export async function absorbWaitingPasses(db: Kdb): Promise<number> {
  const { rows } = await sql<{ n: number }>`
    select count(*)::int as n from graphile_worker.complete_jobs(array(
      select id from graphile_worker.jobs
      where task_identifier = any(${PASS_TASKS}::text[])
        and locked_at is null and run_at <= now()))`.execute(db);
  return rows[0]?.n ?? 0;
}

export interface ScheduleOptions {
  /** Most tickets holding a slot at once across the factory. */
  readonly maxActive: number;
}

/**
 * Start ready tickets up to the limits; returns the keys started.
 *
 * @example
 * ```ts
 * const started = await scheduleReady(db, { maxActive: 4 });
 * ```
 */
export async function scheduleReady(db: Kdb, options: ScheduleOptions): Promise<string[]> {
  // A batch whose definition of done changed stops before any of its tickets can start.
  await checkTripwires(db);
  return inTransaction(db, async (trx) => {
    await sql`select pg_advisory_xact_lock(${SCHEDULER_LOCK_KEY})`.execute(trx);
    const [ready, busy] = await Promise.all([readyTickets(trx), occupancy(trx)]);
    const perRepo = new Map(busy.perRepo);
    let total = busy.total;
    let infra = busy.infra;
    const started: string[] = [];
    for (const ticket of ready) {
      if (total >= options.maxActive) break;
      if ((perRepo.get(ticket.repoId) ?? 0) >= ticket.repoConcurrency) continue;
      if (ticket.infra && infra > 0) continue;
      if (ticket.batchId) await ensureBatchPinned(trx, ticket.batchId);
      const outcome = await applyEventIn(
        trx,
        { id: ticket.id },
        { type: 'START' },
        { actor: 'scheduler' },
      );
      if (outcome.status !== 'applied') continue;
      started.push(ticket.key);
      total++;
      perRepo.set(ticket.repoId, (perRepo.get(ticket.repoId) ?? 0) + 1);
      if (ticket.infra) infra++;
    }
    return started;
  });
}
