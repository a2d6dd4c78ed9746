/**
 * The rows `loopwright gc` needs: final tickets that may still hold files (transcripts, an active
 * workspace, a ticket branch), and a per-ticket share lock so that no event moves a ticket out of
 * its final state while its files are being removed.
 */
import { sql } from 'kysely';
import type { Kdb } from './connection.js';

/**
 * States whose files gc may prune. LIVE and CANCELLED are terminal (only a forced replay leaves
 * them); ESCALATED and DEAD_LETTER are parked until a person acts, and their work lives on in the
 * ticket branch, which gc keeps for them (a RETRY re-creates the workspace from it).
 */
export const PRUNABLE_STATES = ['LIVE', 'CANCELLED', 'ESCALATED', 'DEAD_LETTER'] as const;
export type PrunableState = (typeof PRUNABLE_STATES)[number];

/** A final ticket and where its files may be. */
export interface PrunableTicket {
  readonly id: string;
  readonly key: string;
  readonly state: PrunableState;
  readonly stateChangedAt: Date;
  readonly repoId: string;
  readonly repoPath: string;
  readonly repoRemoved: boolean;
  readonly baseBranch: string;
  readonly settings: unknown;
  /** The workspace's path when its row says it is still there. */
  readonly workspacePath: string | null;
}

/**
 * Final tickets that are named in `keys` (they have a transcript directory or a branch) or whose
 * workspace row is still active, and that have no queued or running agent run. One query.
 */
export async function listPrunableTickets(
  db: Kdb,
  keys: readonly string[],
): Promise<PrunableTicket[]> {
  const { rows } = await sql<{
    id: string;
    key: string;
    state: PrunableState;
    state_changed_at: Date;
    repo_id: string;
    repo_path: string;
    repo_removed: boolean;
    base_branch: string;
    settings: unknown;
    workspace_path: string | null;
  }>`
    select t.id, t.key, t.state, t.state_changed_at, t.repo_id, r.path as repo_path,
           r.removed_at is not null as repo_removed, r.base_branch, r.settings,
           case when w.status = 'active' then w.path end as workspace_path
    from loopwright.tickets t
    join loopwright.repositories r on r.id = t.repo_id
    left join loopwright.workspaces w on w.ticket_id = t.id
    where t.state in (${sql.join(PRUNABLE_STATES)})
      and (t.key = any(${[...keys]}::text[]) or w.status = 'active')
      and not exists (select 1 from loopwright.agent_runs ar
                      where ar.ticket_id = t.id and ar.status in ('queued', 'running'))
    order by t.id`.execute(db);
  return rows.map((r) => ({
    id: String(r.id),
    key: r.key,
    state: r.state,
    stateChangedAt: new Date(r.state_changed_at),
    repoId: String(r.repo_id),
    repoPath: r.repo_path,
    repoRemoved: r.repo_removed,
    baseBranch: r.base_branch,
    settings: r.settings,
    workspacePath: r.workspace_path,
  }));
}

/**
 * Run `work` while holding a share lock on the ticket row, provided the ticket is still in the
 * same state since the same moment; returns `undefined` (and runs nothing) otherwise. An event for
 * the ticket (`applyEvent` locks FOR UPDATE) waits until `work` is done.
 */
export async function withFinalTicketLocked<T>(
  db: Kdb,
  ticket: Pick<PrunableTicket, 'id' | 'state' | 'stateChangedAt'>,
  work: () => Promise<T>,
): Promise<T | undefined> {
  return db.transaction().execute(async (trx) => {
    const { rows } = await sql<{ id: string }>`
      select id from loopwright.tickets
      where id = ${ticket.id} and state = ${ticket.state}
        and date_trunc('milliseconds', state_changed_at) = ${ticket.stateChangedAt}
      for share`.execute(trx);
    if (rows.length === 0) return undefined;
    return work();
  });
}
