/**
 * The numbered SQL files in migrations/ with their sha256, and the number of migrations the
 * installed graphile-worker ships. Kept apart from the migrator so that recognizing an up-to-date
 * schema (./schema-check.ts) does not load graphile-worker.
 */
import { createHash } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import path from 'node:path';
import { packageRoot } from '../config/package-root.js';

const FILE_PATTERN = /^(\d{4})_[a-z0-9_]+\.sql$/;

/** One frozen migration. */
export interface MigrationFile {
  readonly name: string;
  readonly sql: string;
  readonly sha256: string;
}

/** The migrations loopwright ships, in the order they apply. */
export async function readMigrationFiles(
  dir = path.join(packageRoot(), 'migrations'),
): Promise<MigrationFile[]> {
  const names = (await readdir(dir)).filter((n) => FILE_PATTERN.test(n)).sort();
  return Promise.all(
    names.map(async (name) => {
      const sql = await readFile(path.join(dir, name), 'utf8');
      return { name, sql, sha256: createHash('sha256').update(sql).digest('hex') };
    }),
  );
}

let workerMigrations: Promise<number> | undefined;

/**
 * How many schema migrations the installed graphile-worker has (its `sql/NNNNNN.sql` files; its
 * `graphile_worker.migrations` table holds one row per applied file, ids 1..N).
 */
export function graphileWorkerMigrationCount(): Promise<number> {
  workerMigrations ??= (async () => {
    const entry = createRequire(import.meta.url).resolve('graphile-worker');
    const sqlDir = path.join(path.dirname(entry), '..', 'sql');
    return (await readdir(sqlDir)).filter((n) => /^\d{6}\.sql$/.test(n)).length;
  })();
  return workerMigrations;
}
