/**
 * Everything stored, as one comparable value, for "bad input changed nothing": a `pg_dump
 * --data-only` of loopwright's schema and graphile-worker's (rows of every table, and every
 * sequence's position, split per table) when a pg_dump that can read the server is installed;
 * otherwise the same content read with SQL (every table of both schemas, every sequence).
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { sql } from 'kysely';
import type { Kdb } from '../../src/db/connection.js';

const run = promisify(execFile);
const SCHEMAS = ['loopwright', 'graphile_worker'] as const;

/** Per table (`schema.table`) its rows, plus `sequences`; the same shape from either source. */
export type SchemaDump = Record<string, unknown>;

let pgDumpWorks: boolean | undefined;

/**
 * Dump the stored state of the database at `url` (via `db` when pg_dump cannot be used).
 *
 * @example
 * const before = await dumpSchemas(t.url, t.db);
 * // ... the command under test ...
 * expect(await dumpSchemas(t.url, t.db)).toEqual(before);
 */
export async function dumpSchemas(url: string, db: Kdb): Promise<SchemaDump> {
  if (pgDumpWorks !== false) {
    const dumped = await pgDump(url);
    pgDumpWorks = dumped !== null;
    if (dumped) return dumped;
  }
  return sqlDump(db);
}

/** Whether the last dump came from pg_dump (for the test's own report). */
export function dumpedWithPgDump(): boolean {
  return pgDumpWorks === true;
}

async function pgDump(url: string): Promise<SchemaDump | null> {
  const args = ['--data-only', '--no-owner', '--inserts', ...SCHEMAS.map((s) => `--schema=${s}`)];
  try {
    const { stdout } = await run('pg_dump', [...args, url], { maxBuffer: 256 * 1024 * 1024 });
    return splitDump(stdout);
  } catch {
    return null; // not installed, or older than the server
  }
}

/** `INSERT INTO schema.table ...` lines grouped per table, sorted; setval lines as sequences. */
function splitDump(text: string): SchemaDump {
  const dump: Record<string, string[]> = { sequences: [] };
  for (const line of text.split('\n')) {
    const insert = /^INSERT INTO (\S+) /.exec(line);
    if (insert) (dump[insert[1]!] ??= []).push(line);
    else if (line.startsWith('SELECT pg_catalog.setval(')) dump.sequences!.push(line);
  }
  for (const rows of Object.values(dump)) rows.sort();
  return dump;
}

async function sqlDump(db: Kdb): Promise<SchemaDump> {
  const { rows: tables } = await sql<{ name: string }>`
    select format('%I.%I', table_schema, table_name) as name from information_schema.tables
    where table_schema in (${sql.join(SCHEMAS)}) and table_type = 'BASE TABLE'
    order by 1`.execute(db);
  const dump: SchemaDump = {};
  for (const { name } of tables) {
    const { rows } = await sql<{ rows: unknown }>`
      select coalesce(json_agg(t order by t::text), '[]') as rows
      from ${sql.raw(name)} t`.execute(db);
    if ((rows[0]!.rows as unknown[]).length > 0) dump[name] = rows[0]!.rows;
  }
  const { rows: sequences } = await sql<{ name: string; value: string | null }>`
    select format('%I.%I', schemaname, sequencename) as name, last_value::text as value
    from pg_sequences where schemaname in (${sql.join(SCHEMAS)}) order by 1`.execute(db);
  dump.sequences = sequences;
  return dump;
}
