/**
 * Recognize an up-to-date schema with one query, so that every CLI command does not run (and
 * load) the migrator: the applied loopwright migrations and their checksums, graphile-worker's
 * newest applied migration and the engine's tuning and quiet copy of its add_jobs, compared with
 * what this installation ships.
 */
import type pg from 'pg';
import { graphileWorkerMigrationCount, readMigrationFiles } from './migration-files.js';
import {
  ADD_JOBS_CONFIG_SQL,
  ADD_JOBS_QUIET_CURRENT_SQL,
  isAddJobsTuned,
} from './worker-tuning.js';

const CHECK_SQL = `select
  (select coalesce(json_object_agg(name, sha256), '{}'::json) from loopwright.schema_migrations)
    as ours,
  (select coalesce(max(id), 0) from graphile_worker.migrations) as worker,
  ${ADD_JOBS_CONFIG_SQL} as add_jobs_config,
  ${ADD_JOBS_QUIET_CURRENT_SQL} as quiet_current`;

/**
 * True when every shipped migration is applied with the same checksum, nothing unknown is applied,
 * graphile-worker's schema is at the installed version, its add_jobs carries the tuning and the
 * quiet copy matches it.
 * False means "run the migrator", which then also reports edited or unknown migrations as errors.
 *
 * @example
 * if (!(await schemaIsCurrent(pool))) await (await import('./migrate.js')).migrate(pool);
 */
export async function schemaIsCurrent(pool: pg.Pool): Promise<boolean> {
  const [files, expectedWorker] = await Promise.all([
    readMigrationFiles(),
    graphileWorkerMigrationCount(),
  ]);
  let row: {
    ours: Record<string, string>;
    worker: number;
    add_jobs_config: string[] | null;
    quiet_current: boolean;
  };
  try {
    row = (await pool.query(CHECK_SQL)).rows[0];
  } catch (error) {
    // 3F000 no such schema, 42P01 no such table: a fresh database, for the migrator to set up.
    if (['3F000', '42P01'].includes((error as { code?: string }).code ?? '')) return false;
    throw error;
  }
  const applied = Object.entries(row.ours);
  if (applied.length !== files.length || Number(row.worker) !== expectedWorker) return false;
  if (!isAddJobsTuned(row.add_jobs_config) || !row.quiet_current) return false;
  return files.every((f) => row.ours[f.name] === f.sha256);
}

/** Migrate only when the schema is not already current. */
export async function ensureSchema(pool: pg.Pool): Promise<void> {
  if (await schemaIsCurrent(pool)) return;
  const { migrate } = await import('./migrate.js');
  await migrate(pool);
}
