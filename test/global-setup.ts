/**
 * Once per `npm test`: find a Postgres server and build a migrated template database that every
 * test file clones (CREATE DATABASE ... TEMPLATE is much faster than migrating each time).
 *
 * Server: LOOPWRIGHT_TEST_DATABASE_URL, else DATABASE_URL, else an embedded server of this run's
 * own (a fresh home per `npm test`, so two runs in one checkout never stop each other's server),
 * stopped and removed at the end.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { TestProject } from 'vitest/node';
import { ensureEmbeddedServer, stopEmbeddedServer } from '../src/db/embedded/index.js';
import { withClient } from '../src/db/admin.js';
import { connect } from '../src/db/connection.js';
import { migrate } from '../src/db/migrate.js';

declare module 'vitest' {
  export interface ProvidedContext {
    adminUrl: string;
    templateDb: string;
  }
}

export default async function setup(project: TestProject) {
  const external = process.env.LOOPWRIGHT_TEST_DATABASE_URL ?? process.env.DATABASE_URL;
  const home = external ? null : await mkdtemp(path.join(os.tmpdir(), 'lw-test-pg-'));
  const embedded = home ? await ensureEmbeddedServer(home) : null;
  const adminUrl = external ?? embedded!.url;
  const templateDb = `lw_template_${process.pid}`;
  await withClient(adminUrl, (c) =>
    c
      .query(`drop database if exists ${templateDb} with (force)`)
      .then(() => c.query(`create database ${templateDb}`)),
  );
  const template = connect({ url: withDatabase(adminUrl, templateDb), source: 'DATABASE_URL' }, 2);
  try {
    await migrate(template.pool);
  } finally {
    await template.close();
  }
  project.provide('adminUrl', adminUrl);
  project.provide('templateDb', templateDb);
  return async () => {
    await withClient(adminUrl, (c) =>
      c.query(`drop database if exists ${templateDb} with (force)`),
    );
    if (home) await removeEmbeddedServer(home);
  };
}

/**
 * Stop the run's embedded server and delete its cluster (which, as root, lives in
 * /var/lib/loopwright).
 */
async function removeEmbeddedServer(home: string): Promise<void> {
  const config = JSON.parse(
    await readFile(path.join(home, 'db', 'server.json'), 'utf8').catch(() => 'null'),
  ) as { dataDir?: string } | null;
  await stopEmbeddedServer(home);
  const clusterDir = config?.dataDir ? path.dirname(config.dataDir) : null;
  if (clusterDir?.startsWith('/var/lib/loopwright/') && clusterDir !== '/var/lib/loopwright') {
    await rm(clusterDir, { recursive: true, force: true });
    await rm(`${clusterDir}.json`, { force: true }); // its record (cluster-record.ts)
  }
  await rm(home, { recursive: true, force: true });
}

/** The same server URL pointing at another database. */
export function withDatabase(url: string, database: string): string {
  const parsed = new URL(url);
  parsed.pathname = `/${database}`;
  return parsed.toString();
}
