/**
 * A throwaway database for a benchmark run, on whichever server loopwright would use
 * (LOOPWRIGHT_DATABASE_URL / DATABASE_URL / the embedded one), dropped afterwards.
 */
import { randomBytes } from 'node:crypto';
import { runStatement } from '../src/db/admin.js';
import { connect, resolveDatabaseTarget, type Db } from '../src/db/connection.js';
import { migrate } from '../src/db/migrate.js';

export interface BenchDb extends Db {
  readonly url: string;
  /** The server's own URL (its default database), for creating more databases. */
  readonly serverUrl: string;
  drop(): Promise<void>;
}

export async function createBenchDb(max = 20): Promise<BenchDb> {
  const server = await resolveDatabaseTarget();
  const name = `lw_bench_${randomBytes(4).toString('hex')}`;
  await runStatement(server.url, `create database ${name}`);
  const url = new URL(server.url);
  url.pathname = `/${name}`;
  const handle = connect({ url: url.toString(), source: server.source }, max);
  await migrate(handle.pool);
  return {
    ...handle,
    url: url.toString(),
    serverUrl: server.url,
    async drop() {
      await handle.close();
      await runStatement(server.url, `drop database if exists ${name} with (force)`);
    },
  };
}
