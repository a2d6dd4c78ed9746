/**
 * Queries on agent runs: one row per disposable agent subprocess the engine dispatches.
 */
import type { Selectable } from 'kysely';
import type { Kdb } from './connection.js';
import type { AgentRunsTable } from './schema.js';

export type AgentRun = Selectable<AgentRunsTable>;

export interface QueuedRun {
  readonly id: string;
  readonly ticket_id: string;
  readonly seq: number;
  readonly role: 'lead' | 'generator' | 'validator';
  readonly phase: string;
  readonly attempt: number;
  readonly round: number;
}

/** Record a run the engine has just dispatched (its job is enqueued in the same transaction). */
export async function insertQueuedRun(db: Kdb, run: QueuedRun): Promise<void> {
  await db.insertInto('loopwright.agent_runs').values({ ...run, status: 'queued' }).execute();
}

/** A queued run that lost its claim (replay, rewind, cancel) will never report; say so. */
export async function supersedeQueuedRun(db: Kdb, runId: string): Promise<void> {
  await db.updateTable('loopwright.agent_runs').set({ status: 'superseded' }).where('id', '=', runId).where('status', '=', 'queued').execute();
}

export async function listRuns(db: Kdb, ticketId: string): Promise<AgentRun[]> {
  return db.selectFrom('loopwright.agent_runs').selectAll().where('ticket_id', '=', ticketId).orderBy('created_at').orderBy('id').execute();
}
