/**
 * A running factory whose `get_job` locked a job while the answer was lost (the connection died
 * after the commit): the lock names this live process's own worker pool, so neither the sweeper
 * (the pool is alive) nor graphile-worker (for 4 hours) frees it. The factory's tick finds it
 * among its old locks, sees no worker of its own took it, and hands it back; the job then runs.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { sql } from 'kysely';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFactory } from '../../src/worker/factory.js';
import { createTestDb, type TestDb } from '../helpers/db.js';

let t: TestDb;
let home: string;
beforeAll(async () => {
  t = await createTestDb();
  home = await mkdtemp(path.join(os.tmpdir(), 'lw-stray-lock-'));
});
afterAll(async () => {
  await t.drop();
  await rm(home, { recursive: true, force: true });
});

describe('a job locked under a live factory that never took it', () => {
  it('is handed back by the tick and runs', async () => {
    const factory = await startFactory({
      handle: t,
      home,
      concurrency: 1,
      untilIdle: false,
      logger: pino({ level: 'silent' }),
      heartbeatMs: 300,
      staleSeconds: 2,
    });
    try {
      const { rows } = await sql<{ worker: string }>`
        select worker_ids[array_upper(worker_ids, 1)] as worker from loopwright.pools
        where id = ${factory.poolId}::uuid`.execute(t.db);
      const worker = rows[0]!.worker;
      // Exactly what a lost get_job leaves: locked by this pool a while ago, one attempt counted.
      const added = await sql<{ id: string }>`
        select id::text from graphile_worker.add_job('schedule', '{}'::json,
          run_at => now() + interval '1 hour')`.execute(t.db);
      const id = added.rows[0]!.id;
      await sql`
        update graphile_worker._private_jobs
        set run_at = now() - interval '10 seconds', locked_by = ${worker},
          locked_at = now() - interval '10 seconds', attempts = attempts + 1
        where id = ${id}::bigint`.execute(t.db);
      const left = async () =>
        (
          await sql<{ n: number }>`
            select count(*)::int as n from graphile_worker._private_jobs
            where id = ${id}::bigint`.execute(t.db)
        ).rows[0]!.n;
      await expect.poll(left, { timeout: 10_000, interval: 200 }).toBe(0);
    } finally {
      await factory.stop();
    }
  });
});
