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

export async function listRepositories(db: Kdb): Promise<Repository[]> {
  return db.selectFrom('loopwright.repositories').selectAll().orderBy('name').execute();
}

/** The repository with this name, or NotFoundError. */
export async function getRepositoryByName(db: Kdb, name: string): Promise<Repository> {
  const repo = await db
    .selectFrom('loopwright.repositories')
    .selectAll()
    .where('name', '=', name)
    .executeTakeFirst();
  if (!repo) throw new NotFoundError('repo', name);
  return repo;
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
export async function reserveTicketNumber(db: Kdb, repoId: string): Promise<number> {
  const row = await db
    .updateTable('loopwright.repositories')
    .set((eb) => ({ next_ticket_number: eb('next_ticket_number', '+', 1) }))
    .where('id', '=', repoId)
    .returning('next_ticket_number')
    .executeTakeFirstOrThrow();
  return row.next_ticket_number - 1;
}
