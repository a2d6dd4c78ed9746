/**
 * Per-test-file databases: each file gets a fresh clone of the migrated template and drops it
 * when done, so files can run in parallel and leave nothing behind.
 */
import { randomBytes } from 'node:crypto';
import { runStatement } from '../../src/db/admin.js';
import { inject } from 'vitest';
import { connect, type Db } from '../../src/db/connection.js';
import { withDatabase } from '../global-setup.js';

export interface TestDb extends Db {
  readonly url: string;
  readonly name: string;
  /** Close the pool and drop the database. */
  drop(): Promise<void>;
}

/** A fresh, migrated database of its own. */
export async function createTestDb(max = 20): Promise<TestDb> {
  const adminUrl = inject('adminUrl');
  const name = `lw_test_${randomBytes(5).toString('hex')}`;
  await admin(adminUrl, `create database ${name} template ${inject('templateDb')}`);
  const url = withDatabase(adminUrl, name);
  const handle = connect({ url, source: 'DATABASE_URL' }, max);
  return {
    ...handle,
    url,
    name,
    async drop() {
      await handle.close();
      await admin(adminUrl, `drop database if exists ${name} with (force)`);
    },
  };
}

/** Run one statement on the server's admin database, retrying while the template is busy. */
async function admin(url: string, statement: string): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await runStatement(url, statement);
    } catch (error) {
      // 55006: "source database is being accessed by other users" while another clone runs.
      if ((error as { code?: string }).code !== '55006' || attempt >= 20) throw error;
    }
    await new Promise((resolve) => setTimeout(resolve, 100 * attempt));
  }
}
