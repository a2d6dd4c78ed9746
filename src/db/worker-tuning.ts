/**
 * graphile-worker's `add_jobs`, tuned for the way the engine calls it: once per transition, inside
 * the statement that writes the journal row (src/db/ticket-rows.ts).
 *
 * Every statement in `add_jobs` is a keyed look-up, but Postgres (17, measured with
 * pg_stat_statements) re-plans its insert on every call — a custom plan each time, ~0.23 ms of a
 * ~1 ms transition — and, while the jobs table's statistics are those of a small table (a new
 * database, a busy one before autovacuum analyzes it), plans the key-clearing update as a scan of
 * the whole jobs table, which grows with every queued or failed job. Two function-level settings
 * make it keep one generic plan and use the key index; they apply only while `add_jobs` (or
 * `add_job`, which calls it) runs. A graphile-worker upgrade that replaces the function drops
 * them, so the migrator re-applies them and the schema check counts them as part of the schema.
 */
import type pg from 'pg';

const ADD_JOBS = 'graphile_worker.add_jobs(graphile_worker.job_spec[], boolean)';

/** The settings, as Postgres lists them in `pg_proc.proconfig`. */
export const ADD_JOBS_SETTINGS: readonly string[] = [
  'plan_cache_mode=force_generic_plan',
  'enable_seqscan=off',
];

/**
 * A scalar subquery giving `add_jobs`'s settings (`text[]`), or null when this graphile-worker
 * has no function of that signature (then there is nothing to tune).
 */
export const ADD_JOBS_CONFIG_SQL = `(select coalesce(proconfig, '{}') from pg_proc
  where oid = to_regprocedure('${ADD_JOBS}'))`;

/** Whether settings read with {@link ADD_JOBS_CONFIG_SQL} include the tuning. */
export function isAddJobsTuned(config: readonly string[] | null): boolean {
  return config === null || ADD_JOBS_SETTINGS.every((s) => config.includes(s));
}

/**
 * Apply the settings to `add_jobs` unless they are there already (so an up-to-date database
 * takes no lock on the function).
 *
 * @example
 * ```ts
 * await runMigrations({ pgPool: pool });
 * await tuneAddJobs(client);
 * ```
 */
export async function tuneAddJobs(client: pg.ClientBase): Promise<void> {
  const { rows } = await client.query<{ config: string[] | null }>(
    `select ${ADD_JOBS_CONFIG_SQL} as config`,
  );
  if (isAddJobsTuned(rows[0]?.config ?? null)) return;
  const sets = ADD_JOBS_SETTINGS.map((s) => {
    const [name, value] = s.split('=');
    return `set ${name} = ${value}`;
  });
  await client.query(`alter function ${ADD_JOBS} ${sets.join(' ')}`);
}
