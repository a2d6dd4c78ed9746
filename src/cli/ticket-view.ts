/**
 * Everything `loopwright show` knows about one ticket, gathered into one structured value: the
 * `--json` answer as is, and what the human rendering (commands/show.ts) prints.
 */
import type { Kdb } from '../db/connection.js';
import { dependenciesOf, dependentsOf, type DependencyRow } from '../db/dependencies.js';
import { readJournal, readRejected, type JournalRow } from '../db/journal.js';
import { getRepositoryById } from '../db/repositories.js';
import { listRuns, type AgentRun } from '../db/runs.js';
import { getTicket } from '../db/tickets.js';
import { batchNameOf } from '../db/batches.js';

export interface TicketView {
  readonly ticket: TicketHeader;
  readonly dependencies: readonly DependencyRow[];
  readonly dependents: readonly DependencyRow[];
  readonly timeline: readonly TimelineEntry[];
  readonly runs: readonly RunEntry[];
  readonly rejected: readonly RejectedEntry[];
  readonly gates: readonly GateEntry[];
}

/**
 * A check the orchestrator ran itself (RED, GREEN, repo checks, live), from its gate_result
 * artifacts.
 */
export interface GateEntry {
  readonly at: Date;
  readonly gate: string;
  readonly command: string | null;
  readonly passed: boolean;
  readonly exit_code: number | null;
  readonly duration_ms: number | null;
  readonly run_id: string | null;
  readonly artifact_id: string;
}

export interface TicketHeader {
  readonly key: string;
  readonly repo: string;
  readonly batch: string | null;
  readonly title: string;
  readonly body: string;
  readonly state: string;
  readonly substate: string | null;
  readonly version: number;
  readonly machine_version: string;
  readonly priority: number;
  readonly tags: readonly string[];
  readonly attempt: number | null;
  readonly round: number | null;
  readonly reason: string | null;
  readonly detail: string | null;
  readonly cost_usd: number | null;
  readonly current_run_id: string | null;
  readonly created_at: Date;
  readonly state_changed_at: Date;
}

export interface TimelineEntry {
  readonly seq: number;
  readonly at: Date;
  readonly event: string;
  readonly from_state: string | null;
  readonly to_state: string;
  readonly actor: string;
  /** Reason code, when the row escalated or dead-lettered the ticket. */
  readonly reason: string | null;
  /** Why, in words: the escalation detail, an operator's reason, a note's text, a rewind target. */
  readonly detail: string | null;
}

export interface RunEntry {
  readonly id: string;
  readonly role: string;
  readonly phase: string;
  readonly attempt: number;
  readonly round: number;
  readonly status: string;
  readonly started_at: Date | null;
  readonly finished_at: Date | null;
  readonly duration_ms: number | null;
  readonly cost_usd: number | null;
  readonly error: string | null;
}

export interface RejectedEntry {
  readonly at: Date;
  readonly event: string;
  readonly state: string;
  readonly version: number;
  readonly actor: string;
  readonly reason: string;
}

const HALTED = new Set(['ESCALATED', 'DEAD_LETTER']);

/** Gather the view of one ticket (NotFoundError when it does not exist). */
export async function loadTicketView(db: Kdb, ref: string, now = new Date()): Promise<TicketView> {
  const ticket = await getTicket(db, ref);
  const [repo, batch, dependencies, dependents, journal, runs, rejected, gates] = await Promise.all(
    [
      getRepositoryById(db, ticket.repo_id),
      batchNameOf(db, ticket.batch_id),
      dependenciesOf(db, ticket.id),
      dependentsOf(db, ticket.id),
      readJournal(db, ticket.id),
      listRuns(db, ticket.id),
      readRejected(db, ticket.id),
      gateResults(db, ticket.id),
    ],
  );
  const context = ticket.snapshot.context;
  return {
    ticket: {
      key: ticket.key,
      repo: repo.name,
      batch,
      title: ticket.title,
      body: ticket.body,
      state: ticket.state,
      substate: ticket.substate,
      version: ticket.version,
      machine_version: ticket.machine_version,
      priority: ticket.priority,
      tags: ticket.tags,
      attempt: numberOrNull(context.attempt),
      round: numberOrNull(context.round),
      reason: stringOrNull(context.reason),
      detail: stringOrNull(context.detail),
      cost_usd: numberOrNull(context.costUsd),
      current_run_id: ticket.current_run_id,
      created_at: ticket.created_at,
      state_changed_at: ticket.state_changed_at,
    },
    dependencies,
    dependents,
    timeline: journal.map(timelineEntry),
    runs: runs.map((run) => runEntry(run, now)),
    rejected: rejected.map((r) => ({
      at: r.created_at,
      event: r.event_type,
      state: r.state,
      version: r.version,
      actor: r.actor,
      reason: r.reason,
    })),
    gates,
  };
}

async function gateResults(db: Kdb, ticketId: string): Promise<GateEntry[]> {
  const rows = await db
    .selectFrom('loopwright.artifacts')
    .select(['id', 'content', 'run_id', 'created_at'])
    .where('ticket_id', '=', ticketId)
    .where('kind', '=', 'gate_result')
    .orderBy('id')
    .execute();
  return rows.map((r) => {
    const g = JSON.parse(r.content) as {
      gate?: string;
      command?: string;
      passed?: boolean;
      exitCode?: number | null;
      durationMs?: number;
    };
    return {
      at: r.created_at,
      gate: g.gate ?? '?',
      command: g.command ?? null,
      passed: g.passed === true,
      exit_code: g.exitCode ?? null,
      duration_ms: g.durationMs ?? null,
      run_id: r.run_id,
      artifact_id: r.id,
    };
  });
}

function timelineEntry(row: JournalRow): TimelineEntry {
  const context = row.snapshot.context;
  const halted = HALTED.has(row.to_state) && row.from_state !== row.to_state;
  return {
    seq: row.seq,
    at: row.created_at,
    event: row.event_type,
    from_state: row.from_state,
    to_state: row.to_state,
    actor: row.actor,
    reason: halted ? stringOrNull(context.reason) : null,
    detail: halted ? stringOrNull(context.detail) : eventDetail(row.event),
  };
}

/** The human part of an event worth showing on its timeline row. */
function eventDetail(event: Record<string, unknown>): string | null {
  switch (event.type) {
    case 'NOTE':
      return stringOrNull(event.text);
    case 'REWIND':
      return (
        `rewound to row ${String(event.toSeq)}` +
        (typeof event.reason === 'string' ? `: ${event.reason}` : '')
      );
    case 'BLOCK':
      return Array.isArray(event.blockers) ? `blocked by ${event.blockers.join(', ')}` : null;
    case 'VERDICT':
    case 'PLAN_REVIEWED':
      return `verdict ${String(event.verdict)}`;
    default:
      return stringOrNull(event.reason) ?? stringOrNull(event.detail);
  }
}

function runEntry(run: AgentRun, now: Date): RunEntry {
  const end = run.finished_at ?? (run.status === 'running' ? now : null);
  return {
    id: run.id,
    role: run.role,
    phase: run.phase,
    attempt: run.attempt,
    round: run.round,
    status: run.status,
    started_at: run.started_at,
    finished_at: run.finished_at,
    duration_ms: run.started_at && end ? end.getTime() - run.started_at.getTime() : null,
    cost_usd: run.cost_usd === null ? null : Number(run.cost_usd),
    error: run.error,
  };
}

function numberOrNull(value: unknown): number | null {
  return typeof value === 'number' ? value : null;
}

function stringOrNull(value: unknown): string | null {
  return typeof value === 'string' && value !== '' ? value : null;
}
