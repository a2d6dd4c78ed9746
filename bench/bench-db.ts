/**
 * A throwaway database for a benchmark run, on whichever server loopwright would use
 * (LOOPWRIGHT_DATABASE_URL / DATABASE_URL / the embedded one), dropped afterwards.
 */
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { connect, resolveDatabaseTarget, type Db } from '../src/db/connection.js';
import { migrate } from '../src/db/migrate.js';

export interface BenchDb extends Db {
  readonly url: string;
  drop(): Promise<void>;
}

export async function createBenchDb(max = 20): Promise<BenchDb> {
  const server = await resolveDatabaseTarget();
  const name = `lw_bench_${randomBytes(4).toString('hex')}`;
  await admin(server.url, `create database ${name}`);
  const url = new URL(server.url);
  url.pathname = `/${name}`;
  const handle = connect({ url: url.toString(), source: server.source }, max);
  await migrate(handle.pool);
  return {
    ...handle,
    url: url.toString(),
    async drop() {
      await handle.close();
      await admin(server.url, `drop database if exists ${name} with (force)`);
    },
  };
}

async function admin(url: string, statement: string) {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    await client.query(statement);
  } finally {
    await client.end();
  }
}
