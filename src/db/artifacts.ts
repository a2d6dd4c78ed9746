/**
 * Artifacts: immutable content rows (plans, reviews, the approved plan, handovers, reports, gate
 * results). The database computes each sha256 and refuses updates (migrations/0001_core.sql).
 */
import type { Selectable } from 'kysely';
import { NotFoundError } from '../errors.js';
import type { Kdb } from './connection.js';
import type { ArtifactKind, ArtifactsTable } from './schema.js';

export type Artifact = Selectable<ArtifactsTable>;

export interface NewArtifact {
  readonly ticketId: string;
  readonly kind: ArtifactKind;
  readonly content: string;
  readonly runId?: string | null;
  readonly contentType?: string;
}

export async function insertArtifact(
  db: Kdb,
  a: NewArtifact,
): Promise<{ id: string; sha256: string }> {
  return db
    .insertInto('loopwright.artifacts')
    .values({
      ticket_id: a.ticketId,
      kind: a.kind,
      content: a.content,
      run_id: a.runId ?? null,
      content_type: a.contentType ?? 'application/json',
    })
    .returning(['id', 'sha256'])
    .executeTakeFirstOrThrow();
}

export async function getArtifact(db: Kdb, id: string | number): Promise<Artifact> {
  const row = await db
    .selectFrom('loopwright.artifacts')
    .selectAll()
    .where('id', '=', String(id))
    .executeTakeFirst();
  if (!row) throw new NotFoundError('artifact', String(id));
  return row;
}

/** The newest artifact of a kind for a ticket, if any. */
export async function latestArtifact(
  db: Kdb,
  ticketId: string,
  kind: ArtifactKind,
): Promise<Artifact | undefined> {
  return db
    .selectFrom('loopwright.artifacts')
    .selectAll()
    .where('ticket_id', '=', ticketId)
    .where('kind', '=', kind)
    .orderBy('id', 'desc')
    .limit(1)
    .executeTakeFirst();
}

export async function listArtifacts(
  db: Kdb,
  ticketId: string,
): Promise<Omit<Artifact, 'content'>[]> {
  return db
    .selectFrom('loopwright.artifacts')
    .select(['id', 'ticket_id', 'kind', 'run_id', 'content_type', 'sha256', 'created_at'])
    .where('ticket_id', '=', ticketId)
    .orderBy('id')
    .execute();
}

/** Every artifact of a ticket with its content, oldest first (what the ticket document shows). */
export async function listArtifactsWithContent(
  db: Kdb,
  ticketId: string,
  kinds: readonly ArtifactKind[],
): Promise<Artifact[]> {
  if (kinds.length === 0) return [];
  return db
    .selectFrom('loopwright.artifacts')
    .selectAll()
    .where('ticket_id', '=', ticketId)
    .where('kind', 'in', kinds)
    .orderBy('id')
    .execute();
}
