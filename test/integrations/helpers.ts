/**
 * Shared by the integration tests. What "the database is unchanged" means: for every loopwright
 * table and graphile-worker's job and queue tables, the row count and a hash of all rows (each
 * row as JSON, sorted); the text of every row, to search for tokens; and setting this process's
 * environment for a file's tests.
 */
import { sql } from 'kysely';
import type { Kdb } from '../../src/db/connection.js';

/** Base tables of the loopwright schema plus graphile-worker's private job tables. */
async function tables(db: Kdb): Promise<string[]> {
  const { rows } = await sql<{ t: string }>`
    select table_schema || '.' || table_name as t from information_schema.tables
    where table_type = 'BASE TABLE'
      and (table_schema = 'loopwright' or (table_schema = 'graphile_worker'
        and table_name in ('_private_jobs', '_private_job_queues', '_private_known_crontabs')))
    order by 1`.execute(db);
  return rows.map((r) => r.t);
}

/** table -> "<rows>:<md5 of the sorted rows>". */
export async function snapshotDb(db: Kdb): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const table of await tables(db)) {
    const { rows } = await sql<{ n: number; h: string | null }>`
      select count(*)::int as n, md5(string_agg(j, E'\\n' order by j)) as h
      from (select row_to_json(x)::text as j from ${sql.table(table)} x) r`.execute(db);
    out[table] = `${rows[0]!.n}:${rows[0]!.h ?? '-'}`;
  }
  return out;
}

/** Every row of every table (and every text column) as one string, to search for secrets. */
export async function dumpDb(db: Kdb): Promise<string> {
  const { rows } = await sql<{ t: string }>`
    select table_schema || '.' || table_name as t from information_schema.tables
    where table_type = 'BASE TABLE' and table_schema in ('loopwright', 'graphile_worker')`.execute(
    db,
  );
  let dump = '';
  for (const { t } of rows) {
    const r = await sql<{
      j: string;
    }>`select row_to_json(x)::text as j from ${sql.table(t)} x`.execute(db);
    dump += `${r.rows.map((x) => x.j).join('\n')}\n`;
  }
  return dump;
}

/**
 * Set (a string) or unset (undefined) environment variables of this test process; returns the
 * function that puts back what was there.
 */
export function setEnv(values: Record<string, string | undefined>): () => void {
  const saved = Object.fromEntries(Object.keys(values).map((k) => [k, process.env[k]]));
  const apply = (v: Record<string, string | undefined>) => {
    for (const [k, value] of Object.entries(v)) {
      if (value === undefined) delete process.env[k];
      else process.env[k] = value;
    }
  };
  apply(values);
  return () => apply(saved);
}
