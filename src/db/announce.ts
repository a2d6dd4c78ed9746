/**
 * Announcing the engine's writes: the console's `loopwright_console` notification (the ticket's
 * id) and graphile-worker's `jobs:insert` (how many jobs were added), as one statement of their
 * own sent after the write's commit on the same connection, in the same socket write
 * (src/db/tx-session.ts). Not inside the write: a transaction that NOTIFYs holds one lock for the
 * whole Postgres server through its commit, fsync included, so writes that announce from inside
 * commit one at a time (src/db/worker-tuning.ts). A transaction of NOTIFYs alone writes no WAL
 * and does not wait for a flush, so its hold on the lock is short.
 *
 * An announcement never says more than the commit: it goes out only after the write's answer
 * and Postgres delivers it at its own commit. One may go out for a write that changed nothing
 * (a fenced write that missed, a commit that failed); listeners then look and find nothing new.
 * One lost with its connection delays a job until the workers' poll (POLL_INTERVAL_MS) and a
 * console card until the next change of that ticket.
 */
import type { Statement } from './tx-session.js';

/** The console's channel (src/console/live-feed.ts); payload: a ticket id or `batch:<id>`. */
export const CONSOLE_CHANNEL = 'loopwright_console';

/** graphile-worker's channel for new jobs; its runners LISTEN on it. */
const JOBS_CHANNEL = 'jobs:insert';

const ANNOUNCE_TEXT = `select pg_notify('${CONSOLE_CHANNEL}', $1::text),
  case when $2::int > 0
    then pg_notify('${JOBS_CHANNEL}', json_build_object('count', $2::int)::text) end`;

/**
 * The announcement of a write to ticket `ticketId` that added `jobs` jobs.
 *
 * @example
 * ```ts
 * await session.queryAndCommit(writeStatement, announceStatement(ticket.id, 2));
 * ```
 */
export function announceStatement(ticketId: string, jobs: number): Statement {
  return { name: 'lw_announce', text: ANNOUNCE_TEXT, values: [ticketId, jobs] };
}
