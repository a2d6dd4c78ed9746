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
  return db
    .selectFrom('loopwright.agent_runs')
    .selectAll()
    .where('ticket_id', '=', ticketId)
    .orderBy('created_at')
    .orderBy('id')
    .execute();
}

export interface RunStart {
  readonly poolId: string | null;
  readonly host: string;
  readonly provider: string;
  readonly model: string | null;
  readonly transcriptPath: string;
}

/** The job picked the run up: record where it runs. */
export async function markRunStarted(db: Kdb, runId: string, s: RunStart): Promise<void> {
  await db
    .updateTable('loopwright.agent_runs')
    .set({
      status: 'running',
      pool_id: s.poolId,
      host: s.host,
      provider: s.provider,
      model: s.model,
      transcript_path: s.transcriptPath,
      started_at: new Date(),
      finished_at: null,
      error: null,
    })
    .where('id', '=', runId)
    .execute();
}

/** The subprocess exists: record its group so a later sweeper can find (and kill) it. */
export async function markRunSpawned(
  db: Kdb,
  runId: string,
  p: { pid: number; pgid: number; startTime: string; tag?: string },
): Promise<void> {
  await db
    .updateTable('loopwright.agent_runs')
    .set({ pid: p.pid, pgid: p.pgid, process_started_at: p.startTime, process_tag: p.tag ?? null })
    .where('id', '=', runId)
    .execute();
}

export interface RunEnd {
  readonly status: 'succeeded' | 'failed' | 'timed_out' | 'cancelled';
  readonly exitCode: number | null;
  readonly signal: string | null;
  readonly costUsd: number | null;
  readonly tokensIn: number | null;
  readonly tokensOut: number | null;
  readonly error: string | null;
}

export async function markRunFinished(db: Kdb, runId: string, e: RunEnd): Promise<void> {
  await db
    .updateTable('loopwright.agent_runs')
    .set({
      status: e.status,
      exit_code: e.exitCode,
      signal: e.signal,
      cost_usd: e.costUsd,
      tokens_in: e.tokensIn,
      tokens_out: e.tokensOut,
      error: e.error,
      finished_at: new Date(),
    })
    .where('id', '=', runId)
    .execute();
}

/** A run still marked running whose end went unrecorded: failed, with `why` (else nothing). */
export async function closeRunLeftRunning(db: Kdb, runId: string, why: string): Promise<void> {
  await db
    .updateTable('loopwright.agent_runs')
    .set({ status: 'failed', error: why, finished_at: new Date() })
    .where('id', '=', runId)
    .where('status', '=', 'running')
    .execute();
}

/** Runs that were running in the given pools (dead ones, for the sweeper). */
export async function runningRunsOf(db: Kdb, poolIds: readonly string[]): Promise<AgentRun[]> {
  if (poolIds.length === 0) return [];
  return db
    .selectFrom('loopwright.agent_runs')
    .selectAll()
    .where('pool_id', 'in', poolIds)
    .where('status', '=', 'running')
    .execute();
}

/** One run with its ticket's key, or undefined. */
export async function getRunById(
  db: Kdb,
  runId: string,
): Promise<(AgentRun & { ticket_key: string }) | undefined> {
  return db
    .selectFrom('loopwright.agent_runs as r')
    .innerJoin('loopwright.tickets as t', 't.id', 'r.ticket_id')
    .selectAll('r')
    .select('t.key as ticket_key')
    .where('r.id', '=', runId)
    .executeTakeFirst();
}
