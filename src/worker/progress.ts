/**
 * Progress, two ways. On a terminal: one line per active ticket (phase, attempt, running agent,
 * elapsed), redrawn in place. Off a terminal (and in `demo`): one line per phase change,
 * `23:00:31 demo-1 PLAN_DRAFT -> PLAN_NEGOTIATE.critique (PLAN_READY, run 7c928f3d, lead
 * scripted)`, or the same move as a log record (`Ticket moved`) when logs are JSON.
 */
import { sql } from 'kysely';
import type { Logger } from 'pino';
import type { Kdb } from '../db/connection.js';
import { setTimeout } from 'node:timers/promises';
import { type JournalMove, journalSince, lastJournalId } from '../db/run-summary.js';

export interface ProgressRow {
  readonly key: string;
  readonly state: string;
  readonly substate: string | null;
  readonly attempt: number;
  readonly agent: string | null;
  readonly seconds: number;
}

export async function activeTickets(db: Kdb): Promise<ProgressRow[]> {
  const { rows } = await sql<ProgressRow>`
    select t.key, t.state, t.substate, coalesce((t.snapshot -> 'context' ->> 'attempt')::int, 0)
      as attempt,
           (select ar.role || ' (' || coalesce(ar.provider, '?') || ')'
             from loopwright.agent_runs ar
             where ar.id = t.current_run_id and ar.status = 'running') as agent,
           extract(epoch from now() - t.state_changed_at)::int as seconds
    from loopwright.tickets t
    where t.state not in ('QUEUED', 'LIVE', 'CANCELLED')
    order by t.key`.execute(db);
  return rows;
}

export function renderProgress(rows: readonly ProgressRow[]): string[] {
  if (rows.length === 0) return ['(no active tickets)'];
  return rows.map((r) => {
    const phase = r.substate ? `${r.state}.${r.substate}` : r.state;
    const attempt = r.attempt > 0 ? ` attempt ${r.attempt}` : '';
    const agent = (r.agent ?? '-').padEnd(24);
    return `${r.key.padEnd(14)} ${phase.padEnd(26)}${attempt.padEnd(11)} ${agent} ${r.seconds}s`;
  });
}

/** Redraw `lines` over the previous frame of `previous` lines (ANSI: cursor up + clear line). */
export function frame(lines: readonly string[], previous: number): string {
  const up = previous > 0 ? `\x1b[${previous}A` : '';
  return (
    up + lines.map((l) => `\x1b[2K${l}\n`).join('') + (previous > lines.length ? '\x1b[J' : '')
  );
}

/**
 * One phase change as a line: time (UTC), ticket, from -> to, the reason of a stop, and in
 * brackets the event, who sent it (role and provider for an agent) and its run.
 */
export function formatMove(move: JournalMove, at = new Date()): string {
  const from = move.from ? place(move.from, move.fromSubstate) : '(new)';
  const reason = move.reason ? ` ${move.reason}` : '';
  const run = move.run ? `, run ${move.run.slice(0, 8)}` : '';
  const time = at.toISOString().slice(11, 19);
  return (
    `${time} ${move.key} ${from} -> ${place(move.to, move.substate)}${reason}` +
    ` (${move.event}, ${senderOf(move)}${run})`
  );
}

/** The same move as a log record: ticket, run and repo like every line about a ticket. */
export function logMove(log: Logger, move: JournalMove): void {
  log.info(
    {
      ticket: move.key,
      run: move.run,
      repo: move.repo,
      from: move.from ? place(move.from, move.fromSubstate) : null,
      to: place(move.to, move.substate),
      event: move.event,
      by: senderOf(move),
      ...(move.reason ? { reason: move.reason } : {}),
    },
    'Ticket moved',
  );
}

const place = (state: string, substate: string | null) =>
  substate ? `${state}.${substate}` : state;

/** `agent:lead:<run>` -> `lead scripted`; others without their run id (`orchestrator:merge`). */
function senderOf(move: JournalMove): string {
  const agent = /^agent:([a-z]+):/.exec(move.actor);
  if (agent) return move.provider ? `${agent[1]} ${move.provider}` : agent[1]!;
  return move.actor.replace(/:[0-9a-f-]{36}$/, '');
}

/** Where progress lines start: after the newest journal row now. */
export const progressStart = (db: Kdb): Promise<string> => lastJournalId(db);

/**
 * Call `onMove` for each journal row as tickets move — when `onChange` (the journal's LISTEN feed,
 * `Factory.onChange`) says something moved, else polling every `intervalMs`; returns a stop
 * function that hands over what is left first. Notes that change nothing are skipped.
 *
 * @example
 * ```ts
 * const from = await progressStart(db);
 * const stop = followProgress(db, (move) => printLine(io, formatMove(move)), from);
 * ```
 */
export function followProgress(
  db: Kdb,
  onMove: (move: JournalMove) => void,
  from: string,
  intervalMs = 500,
  onChange: ((listener: () => void) => () => void) | null = null,
): () => Promise<void> {
  let after = from;
  const drain = async () => {
    for (;;) {
      const rows = await journalSince(db, after);
      for (const r of rows) {
        after = r.id;
        if (r.from === r.to && r.event === 'NOTE') continue;
        onMove(r);
      }
      if (rows.length < 200) return;
    }
  };
  let busy = false;
  let again = false;
  const pass = () => {
    if (busy) {
      again = true;
      return;
    }
    busy = true;
    void drain()
      .catch(() => {})
      .finally(() => {
        busy = false;
        if (again) {
          again = false;
          pass();
        }
      });
  };
  // With the journal's LISTEN feed, a pass runs when something moved; else on a timer.
  const unsubscribe = onChange?.(pass);
  const timer = unsubscribe ? undefined : setInterval(pass, intervalMs);
  return async () => {
    unsubscribe?.();
    clearInterval(timer);
    while (busy) await setTimeout(20);
    await drain().catch(() => {});
  };
}
