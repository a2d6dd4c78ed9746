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

export async function listRuns(db: Kdb, ticketId: string): Promise<AgentRun[]> {
  return db.selectFrom('loopwright.agent_runs').selectAll().where('ticket_id', '=', ticketId).orderBy('created_at').orderBy('id').execute();
}
