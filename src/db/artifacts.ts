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

/**
 * One artifact by id. Artifacts never change (the database refuses updates), so a row once read is
 * kept for later reads in this process: a ticket's plan is read by every phase after it.
 */
export async function getArtifact(db: Kdb, id: string | number): Promise<Artifact> {
  const key = String(id);
  const kept = keptFor(READ_ARTIFACTS, db);
  const known = kept.get(key);
  if (known) return known;
  const row = await db
    .selectFrom('loopwright.artifacts')
    .selectAll()
    .where('id', '=', key)
    .executeTakeFirst();
  if (!row) throw new NotFoundError('artifact', key);
  if (row.content.length <= MAX_KEPT_CHARS) {
    if (kept.size >= MAX_KEPT) kept.clear();
    kept.set(key, Object.freeze(row));
  }
  return row;
}

/** Per database handle: ids are only unique within one database. */
const READ_ARTIFACTS = new WeakMap<Kdb, Map<string, Artifact>>();
/** Enough for the plans of every ticket a factory works on at once; past it, start over. */
const MAX_KEPT = 512;
const MAX_KEPT_CHARS = 256 * 1024;

function keptFor<T>(all: WeakMap<Kdb, Map<string, T>>, db: Kdb): Map<string, T> {
  let kept = all.get(db);
  if (!kept) all.set(db, (kept = new Map()));
  return kept;
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
