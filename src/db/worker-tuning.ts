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
 *
 * The engine's own writes call a quiet copy, `loopwright.add_jobs_quiet`: graphile-worker's
 * `add_jobs` without its `pg_notify('jobs:insert', …)`. A NOTIFY in a transaction takes one lock
 * for the whole Postgres server from its commit's start to its end, fsync included, so every
 * transition that announced its jobs that way committed one at a time — measured, that alone held
 * the engine to about 60% of its throughput at 8 clients (docs/bench.md). The engine announces
 * its jobs itself, in a statement of its own sent after the commit (src/db/announce.ts), where
 * the lock costs microseconds. The copy is made from the installed `add_jobs` by the migrator
 * and compared with it by the schema check, so a graphile-worker upgrade re-makes it; an
 * `add_jobs` that no longer has exactly that one NOTIFY gets a copy that just calls it.
 */
import type pg from 'pg';

const ADD_JOBS = 'graphile_worker.add_jobs(graphile_worker.job_spec[], boolean)';

/** The settings, as Postgres lists them in `pg_proc.proconfig`. */
export const ADD_JOBS_SETTINGS: readonly string[] = [
  'plan_cache_mode=force_generic_plan',
  'enable_seqscan=off',
];

/** The quiet copy the engine's writes call (same arguments and result as `add_jobs`). */
export const ADD_JOBS_QUIET = 'loopwright.add_jobs_quiet';

/** The one statement of `add_jobs` the copy leaves out (a regex, quoted for a SQL literal). */
const NOTIFY_PATTERN = `perform pg_notify\\(''jobs:insert'',[^;]*;`;

/**
 * A scalar subquery giving the body the quiet copy must have, made from the installed
 * `add_jobs` (null when there is none).
 */
const QUIET_BODY_SQL = `(select case
    when (select count(*) from regexp_matches(p.prosrc, '${NOTIFY_PATTERN}', 'g')) = 1
    then regexp_replace(p.prosrc, '${NOTIFY_PATTERN}',
      '-- jobs:insert: announced by loopwright after the commit (src/db/announce.ts)')
    else E'begin\n  return query select * from graphile_worker.add_jobs(specs, ' ||
      E'job_key_preserve_run_at);\nend;\n'
    end
  from pg_proc p where p.oid = to_regprocedure('${ADD_JOBS}'))`;

/**
 * A scalar subquery: whether the quiet copy is there, made from the installed `add_jobs` and
 * tuned like it.
 */
export const ADD_JOBS_QUIET_CURRENT_SQL = `coalesce((select q.prosrc = ${QUIET_BODY_SQL}
    and coalesce(q.proconfig, '{}') @> array[${ADD_JOBS_SETTINGS.map((s) => `'${s}'`).join(', ')}]
  from pg_proc q
  where q.oid = to_regprocedure('${ADD_JOBS_QUIET}(graphile_worker.job_spec[], boolean)')),
  false)`;

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

/**
 * Make (or re-make) `loopwright.add_jobs_quiet` from the installed `add_jobs`, unless it is
 * current already.
 */
export async function makeQuietAddJobs(client: pg.ClientBase): Promise<void> {
  const { rows } = await client.query<{ current: boolean }>(
    `select ${ADD_JOBS_QUIET_CURRENT_SQL} as current`,
  );
  if (rows[0]?.current) return;
  const sets = ADD_JOBS_SETTINGS.map((s) => `set ${s.replace('=', ' = ')}`).join(' ');
  await client.query(`do $make$
    declare
      body text := ${QUIET_BODY_SQL};
      source oid := to_regprocedure('${ADD_JOBS}');
    begin
      if body is null then
        raise exception 'graphile_worker.add_jobs(job_spec[], boolean) is missing';
      end if;
      execute format(
        'create or replace function ${ADD_JOBS_QUIET}(%s) returns %s language plpgsql '
          '${sets} as %L',
        pg_get_function_arguments(source), pg_get_function_result(source), body);
    end
  $make$`);
}
