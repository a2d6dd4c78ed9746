/**
 * Once per `npm test`: find a Postgres server and build a migrated template database that every
 * test file clones (CREATE DATABASE ... TEMPLATE is much faster than migrating each time).
 *
 * Server: LOOPWRIGHT_TEST_DATABASE_URL, else DATABASE_URL, else the embedded server under
 * .loopwright-test/ in the checkout (started here and stopped at the end).
 */
import path from 'node:path';
import pg from 'pg';
import type { TestProject } from 'vitest/node';
import { ensureEmbeddedServer, stopEmbeddedServer } from '../src/db/embedded/index.js';
import { migrate } from '../src/db/migrate.js';

declare module 'vitest' {
  export interface ProvidedContext {
    adminUrl: string;
    templateDb: string;
  }
}

export default async function setup(project: TestProject) {
  const external = process.env.LOOPWRIGHT_TEST_DATABASE_URL ?? process.env.DATABASE_URL;
  const home = path.resolve('.loopwright-test/home');
  const embedded = external ? null : await ensureEmbeddedServer(home);
  const adminUrl = external ?? embedded!.url;
  const templateDb = `lw_template_${process.pid}`;
  await withClient(adminUrl, (c) => c.query(`drop database if exists ${templateDb} with (force)`).then(() => c.query(`create database ${templateDb}`)));
  const pool = new pg.Pool({ connectionString: withDatabase(adminUrl, templateDb), max: 2 });
  try {
    await migrate(pool);
  } finally {
    await pool.end();
  }
  project.provide('adminUrl', adminUrl);
  project.provide('templateDb', templateDb);
  return async () => {
    await withClient(adminUrl, (c) => c.query(`drop database if exists ${templateDb} with (force)`));
    if (embedded?.started) await stopEmbeddedServer(home);
  };
}

/** The same server URL pointing at another database. */
export function withDatabase(url: string, database: string): string {
  const parsed = new URL(url);
  parsed.pathname = `/${database}`;
  return parsed.toString();
}

async function withClient<T>(url: string, work: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.end();
  }
}
