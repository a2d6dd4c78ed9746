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

export interface IdleWatch {
  /** Something may have changed (a job ended, a worker found the queue empty, a ticket moved). */
  poke(): void;
  stop(): void;
}

export interface IdleWatchOptions {
  /** Jobs this process is running now; while any runs, their end pokes. */
  readonly running: () => number;
  /** Coalescing delay after a poke (default 20 ms). */
  readonly settleMs?: number;
  /** Longest wait between readings when nothing pokes (default 2 s). */
  readonly maxWaitMs?: number;
}

/**
 * `--until-idle`: read {@link isIdle} when something changes, not on a clock. A reading that is
 * not idle while this process runs no job is repeated with backoff (20 ms doubling to `maxWaitMs`):
 * graphile-worker records a finished job a moment after announcing it, and another process's or a
 * delayed job's progress announces nothing here.
 */
export function watchIdle(
  db: Kdb,
  onIdle: () => void,
  signal: AbortSignal,
  o: IdleWatchOptions,
): IdleWatch {
  const settle = o.settleMs ?? 20;
  const maxWait = o.maxWaitMs ?? 2000;
  let timer: NodeJS.Timeout | null = null;
  /** When the armed timer fires (ms since the epoch). */
  let due = 0;
  let checking = false;
  let again = false;
  let backoff = settle;
  // A reading is due at most `ms` from now: an earlier one already armed stands (pokes in a burst
  // do not push the reading back), a later one (the long safety timer) is brought forward.
  const arm = (ms: number) => {
    if (signal.aborted) return;
    const at = Date.now() + ms;
    if (timer && due <= at) return;
    if (timer) clearTimeout(timer);
    due = at;
    timer = setTimeout(() => void check(), ms);
  };
  const check = async () => {
    timer = null;
    // A job running here is pending work: its end pokes. (The long timer is a safety net.)
    if (o.running() > 0) return arm(maxWait);
    if (checking) {
      again = true;
      return;
    }
    checking = true;
    const idle = await isIdle(db).catch(() => false);
    checking = false;
    if (signal.aborted) return;
    if (idle) return onIdle();
    if (again) {
      again = false;
      backoff = settle;
      return arm(settle);
    }
    if (o.running() > 0) return arm(maxWait);
    backoff = Math.min(backoff * 2, maxWait);
    arm(backoff);
  };
  const poke = () => {
    backoff = settle;
    if (checking) again = true;
    else arm(settle);
  };
  poke();
  return {
    poke,
    stop: () => {
      if (timer) clearTimeout(timer);
      timer = null;
    },
  };
}
