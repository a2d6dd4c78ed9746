import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import { EmbeddedPostgresError } from './errors.js';
import { LOOPBACK_HOST } from './ports.js';
import type { ServerConfig } from './server-config.js';

async function withClient<T>(
  config: ServerConfig,
  database: string,
  fn: (client: pg.Client) => Promise<T>,
): Promise<T> {
  const client = new pg.Client({
    host: LOOPBACK_HOST,
    port: config.port,
    user: config.user,
    password: config.password,
    database,
    ssl: false,
    connectionTimeoutMillis: 5_000,
  });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end().catch(() => undefined);
  }
}

/**
 * Whether our server answers `select 1` with our credentials, retrying until `timeoutMs`. Used
 * when `pg_ctl start` failed because a server was already starting or running.
 */
export async function waitForServer(config: ServerConfig, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      await withClient(config, 'postgres', (client) => client.query('select 1'));
      return true;
    } catch {
      if (Date.now() > deadline) return false;
      await sleep(250);
    }
  }
}

/**
 * Create the loopwright database if it does not exist yet (connecting to `postgres`).
 *
 * @example
 * await ensureDatabase(config); // after the first start of a fresh cluster
 */
export async function ensureDatabase(config: ServerConfig): Promise<void> {
  try {
    await withClient(config, 'postgres', async (client) => {
      const found = await client.query('select 1 from pg_database where datname = $1', [
        config.database,
      ]);
      if (found.rowCount) return;
      await client.query(`create database ${pg.escapeIdentifier(config.database)}`);
    });
  } catch (cause) {
    if ((cause as { code?: string }).code === '42P04') return; // created concurrently
    throw new EmbeddedPostgresError(
      'PG_DATABASE_FAILED',
      `Could not create database "${config.database}" on 127.0.0.1:${config.port}: ` +
        `${(cause as Error).message}`,
      { cause },
    );
  }
}
