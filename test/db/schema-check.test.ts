import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { migrate } from '../../src/db/migrate.js';
import { schemaIsCurrent } from '../../src/db/schema-check.js';
import { ADD_JOBS_SETTINGS } from '../../src/db/worker-tuning.js';
import { createTestDb, type TestDb } from '../helpers/db.js';

describe('recognizing an up-to-date schema with one query', () => {
  let t: TestDb;
  beforeAll(async () => {
    t = await createTestDb(2);
  });
  afterAll(() => t.drop());

  it('says current for a migrated database, and the migrator then applies nothing', async () => {
    expect(await schemaIsCurrent(t.pool)).toBe(true);
    expect((await migrate(t.pool)).applied).toEqual([]);
  });

  it('says not current when a shipped migration is missing, edited or unknown', async () => {
    const { rows } = await t.pool.query<{ name: string; sha256: string }>(
      'select name, sha256 from loopwright.schema_migrations order by name desc limit 1',
    );
    const last = rows[0]!;
    await t.pool.query('update loopwright.schema_migrations set sha256 = $2 where name = $1', [
      last.name,
      'edited',
    ]);
    expect(await schemaIsCurrent(t.pool)).toBe(false);
    await t.pool.query('delete from loopwright.schema_migrations where name = $1', [last.name]);
    expect(await schemaIsCurrent(t.pool)).toBe(false);
    await t.pool.query(
      'insert into loopwright.schema_migrations (name, sha256) values ($1, $2), ' +
        "('9999_future.sql', 'x')",
      [last.name, last.sha256],
    );
    expect(await schemaIsCurrent(t.pool)).toBe(false);
    await t.pool.query("delete from loopwright.schema_migrations where name = '9999_future.sql'");
    expect(await schemaIsCurrent(t.pool)).toBe(true);
  });

  it("says not current when graphile-worker's schema is behind", async () => {
    const newest = await t.pool.query<{ id: number }>(
      'select max(id) as id from graphile_worker.migrations',
    );
    const id = newest.rows[0]!.id;
    const saved = await t.pool.query('select * from graphile_worker.migrations where id = $1', [
      id,
    ]);
    await t.pool.query('delete from graphile_worker.migrations where id = $1', [id]);
    expect(await schemaIsCurrent(t.pool)).toBe(false);
    const row = saved.rows[0] as { id: number; ts: Date; breaking: boolean };
    await t.pool.query(
      'insert into graphile_worker.migrations (id, ts, breaking) values ($1, $2, $3)',
      [row.id, row.ts, row.breaking],
    );
    expect(await schemaIsCurrent(t.pool)).toBe(true);
  });

  it("says not current without add_jobs's tuning; the migrator puts it back", async () => {
    const config = async () =>
      (
        await t.pool.query<{ c: string[] | null }>(
          'select proconfig as c from pg_proc where oid = to_regprocedure(' +
            "'graphile_worker.add_jobs(graphile_worker.job_spec[], boolean)')",
        )
      ).rows[0]!.c;
    expect(await config()).toEqual(expect.arrayContaining([...ADD_JOBS_SETTINGS]));
    // What CREATE OR REPLACE FUNCTION in a new graphile-worker migration would leave.
    await t.pool.query(
      'alter function graphile_worker.add_jobs(graphile_worker.job_spec[], boolean) reset all',
    );
    expect(await config()).toBeNull();
    expect(await schemaIsCurrent(t.pool)).toBe(false);
    expect((await migrate(t.pool)).applied).toEqual([]);
    expect(await config()).toEqual(expect.arrayContaining([...ADD_JOBS_SETTINGS]));
    expect(await schemaIsCurrent(t.pool)).toBe(true);
  });
});
