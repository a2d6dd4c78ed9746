/**
 * Live progress for a terminal: one line per active ticket (phase, attempt, running agent,
 * elapsed), redrawn in place. Off a terminal, `loopwright run` prints structured logs instead.
 */
import { sql } from 'kysely';
import type { Kdb } from '../db/connection.js';

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
