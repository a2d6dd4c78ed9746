/**
 * Applies the numbered, frozen SQL files in migrations/ and graphile-worker's own schema, then
 * the engine's tuning of graphile-worker's add_jobs (./worker-tuning.ts).
 * Concurrent migrators (several `loopwright` processes starting at once) serialize on an advisory
 * lock, so each file runs exactly once, inside its own transaction. A file changed after it was
 * applied is refused, not silently re-run.
 */
import path from 'node:path';
import { runMigrations } from 'graphile-worker';
import type pg from 'pg';
import { MigrationError } from '../errors.js';
import { packageRoot } from '../config/package-root.js';
import { createWorkerLogger } from '../log/logger.js';
import { type MigrationFile, readMigrationFiles } from './migration-files.js';
import { makeQuietAddJobs, tuneAddJobs } from './worker-tuning.js';

/** Arbitrary constant: the advisory lock every migrator takes ("lw" + "mig" in hex-ish). */
const MIGRATION_LOCK_KEY = 0x6c776d6967;

export interface MigrationResult {
  readonly applied: readonly string[];
  readonly alreadyApplied: number;
}

/**
 * Bring the database schema up to date.
 *
 * @example
 * ```ts
 * const { applied } = await migrate(pool);
 * ```
 */
export async function migrate(
  pool: pg.Pool,
  dir = path.join(packageRoot(), 'migrations'),
): Promise<MigrationResult> {
  const files = await readMigrationFiles(dir);
  const client = await pool.connect();
  try {
    await client.query('select pg_advisory_lock($1)', [MIGRATION_LOCK_KEY]);
    try {
      const result = await applyPending(client, files);
      await runMigrations({ pgPool: pool, logger: createWorkerLogger() });
      await tuneAddJobs(client);
      await makeQuietAddJobs(client);
      return result;
    } finally {
      await client.query('select pg_advisory_unlock($1)', [MIGRATION_LOCK_KEY]);
    }
  } finally {
    client.release();
  }
}

async function applyPending(
  client: pg.PoolClient,
  files: readonly MigrationFile[],
): Promise<MigrationResult> {
  await client.query(`create schema if not exists loopwright;
    create table if not exists loopwright.schema_migrations (
      name text primary key, sha256 text not null, applied_at timestamptz not null default now())`);
  const { rows } = await client.query<{ name: string; sha256: string }>(
    'select name, sha256 from loopwright.schema_migrations',
  );
  const known = new Map(rows.map((r) => [r.name, r.sha256]));
  const fileNames = new Set(files.map((f) => f.name));
  const unknown = rows.filter((r) => !fileNames.has(r.name)).map((r) => r.name);
  if (unknown.length > 0) {
    throw new MigrationError(
      `database has migrations this loopwright does not know (${unknown.join(', ')}): ` +
        `upgrade loopwright`,
    );
  }
  const applied: string[] = [];
  for (const file of files) {
    const stored = known.get(file.name);
    if (stored !== undefined) {
      if (stored !== file.sha256)
        throw new MigrationError(
          `migration ${file.name} was edited after it was applied; migrations are ` +
            `frozen — add a new one`,
        );
      continue;
    }
    await applyOne(client, file);
    applied.push(file.name);
  }
  return { applied, alreadyApplied: files.length - applied.length };
}

async function applyOne(client: pg.PoolClient, file: MigrationFile): Promise<void> {
  try {
    await client.query('begin');
    await client.query(file.sql);
    await client.query('insert into loopwright.schema_migrations (name, sha256) values ($1, $2)', [
      file.name,
      file.sha256,
    ]);
    await client.query('commit');
  } catch (error) {
    await client.query('rollback');
    throw new MigrationError(`migration ${file.name} failed: ${(error as Error).message}`, {
      cause: error,
    });
  }
}
