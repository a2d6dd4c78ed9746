/**
 * The git worktree each ticket works in, tracked so it can be found again and removed when the
 * ticket is final.
 */
import { sql } from 'kysely';
import type { Kdb } from './connection.js';

export interface WorkspaceRow {
  readonly ticket_id: string;
  readonly repo_id: string;
  readonly path: string;
  readonly branch: string;
  readonly base_commit: string;
}

/** Record (or re-activate) a ticket's worktree. */
export async function upsertWorkspace(db: Kdb, row: WorkspaceRow): Promise<void> {
  await db
    .insertInto('loopwright.workspaces')
    .values(row)
    .onConflict((oc) =>
      oc
        .column('ticket_id')
        .doUpdateSet({ path: row.path, branch: row.branch, status: 'active', removed_at: null }),
    )
    .execute();
}

export async function getWorkspace(db: Kdb, ticketId: string) {
  return db
    .selectFrom('loopwright.workspaces')
    .selectAll()
    .where('ticket_id', '=', ticketId)
    .executeTakeFirst();
}

export async function markWorkspaceRemoved(db: Kdb, ticketId: string): Promise<void> {
  await db
    .updateTable('loopwright.workspaces')
    .set({ status: 'removed', removed_at: sql`now()` })
    .where('ticket_id', '=', ticketId)
    .execute();
}
