/**
 * Queries on registered repositories.
 */
import type { Insertable, Selectable } from 'kysely';
import { NotFoundError } from '../errors.js';
import type { Kdb } from './connection.js';
import { mapDbError } from './errors.js';
import type { RepositoriesTable } from './schema.js';

export type Repository = Selectable<RepositoriesTable>;
export type NewRepository = Insertable<RepositoriesTable>;

/** Register a repository; a duplicate name is a BadInputError. */
export async function insertRepository(db: Kdb, repo: NewRepository): Promise<Repository> {
  try {
    return await db
      .insertInto('loopwright.repositories')
      .values(repo)
      .returningAll()
      .executeTakeFirstOrThrow();
  } catch (error) {
    throw mapDbError(error);
  }
}

/** Registered repositories (removed ones are not listed). */
export async function listRepositories(db: Kdb): Promise<Repository[]> {
  return db
    .selectFrom('loopwright.repositories')
    .selectAll()
    .where('removed_at', 'is', null)
    .orderBy('name')
    .execute();
}

/** The registered (not removed) repository with this name, or NotFoundError. */
export async function getRepositoryByName(db: Kdb, name: string): Promise<Repository> {
  const repo = await db
    .selectFrom('loopwright.repositories')
    .selectAll()
    .where('name', '=', name)
    .where('removed_at', 'is', null)
    .executeTakeFirst();
  if (!repo) throw new NotFoundError('repo', name);
  return repo;
}

/** Any row holding this name or this path, removed ones included (names stay reserved). */
export async function findRepositoryClash(
  db: Kdb,
  name: string,
  repoPath: string,
): Promise<Repository | undefined> {
  return db
    .selectFrom('loopwright.repositories')
    .selectAll()
    .where((eb) =>
      eb.or([
        eb('name', '=', name),
        eb.and([eb('path', '=', repoPath), eb('removed_at', 'is', null)]),
      ]),
    )
    .orderBy('id')
    .executeTakeFirst();
}

/** Change a repository's columns and settings (`repo set`). */
export async function updateRepository(
  db: Kdb,
  id: string,
  patch: Partial<
    Pick<
      NewRepository,
      'base_branch' | 'test_cmd' | 'live_cmd' | 'check_cmds' | 'concurrency' | 'mode' | 'settings'
    >
  >,
): Promise<Repository> {
  try {
    return await db
      .updateTable('loopwright.repositories')
      .set({ ...patch, updated_at: new Date() })
      .where('id', '=', id)
      .returningAll()
      .executeTakeFirstOrThrow();
  } catch (error) {
    throw mapDbError(error);
  }
}

/** Tickets of a repository per state (all of them, final ones included). */
export async function ticketStatesOf(
  db: Kdb,
  repoId: string,
): Promise<{ key: string; state: string }[]> {
  return db
    .selectFrom('loopwright.tickets')
    .select(['key', 'state'])
    .where('repo_id', '=', repoId)
    .orderBy('id')
    .execute();
}

/**
 * Remove a repository: deleted when it has no tickets, else marked removed (its tickets' journal
 * is immutable history). Returns which of the two happened.
 */
export async function removeRepository(db: Kdb, id: string): Promise<'deleted' | 'marked'> {
  return db.transaction().execute(async (trx) => {
    const ticket = await trx
      .selectFrom('loopwright.tickets')
      .select('id')
      .where('repo_id', '=', id)
      .limit(1)
      .executeTakeFirst();
    if (!ticket) {
      await trx.deleteFrom('loopwright.repositories').where('id', '=', id).execute();
      return 'deleted' as const;
    }
    await trx
      .updateTable('loopwright.repositories')
      .set({ removed_at: new Date(), updated_at: new Date() })
      .where('id', '=', id)
      .execute();
    return 'marked' as const;
  });
}

export async function getRepositoryById(db: Kdb, id: string): Promise<Repository> {
  const repo = await db
    .selectFrom('loopwright.repositories')
    .selectAll()
    .where('id', '=', id)
    .executeTakeFirst();
  if (!repo) throw new NotFoundError('repo', `#${id}`);
  return repo;
}

/** Reserve the next ticket number of a repository (row-locked, so numbers are never reused). */
