/**
 * The supervised runner against a database that goes away at the worst moment: a restarted
 * runner whose pool shuts down before its start is complete (its worker id not yet recorded)
 * must not keep the jobs it locked. graphile-worker holds them for 4 hours otherwise, while this
 * process — alive, its pool row fresh — is never swept.
 */
import { sql } from 'kysely';
import pg from 'pg';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DatabaseAvailability } from '../../src/db/availability.js';
import { setLogLevel } from '../../src/log/logger.js';
import { startSupervisedRunner } from '../../src/worker/supervised-runner.js';
import { createTestDb, type TestDb } from '../helpers/db.js';

/** A pool whose connects can be made to fail the way they do while the server is down. */
class FlakyPool extends pg.Pool {
  failing = false;

  override connect(...args: unknown[]): never {
    if (!this.failing) return (super.connect as (...a: unknown[]) => never).apply(this, args);
    const down = Object.assign(new Error('connect ECONNREFUSED (the test took the server away)'), {
      code: 'ECONNREFUSED',
    });
    const callback = args[0] as ((e: Error) => void) | undefined;
    if (!callback) return Promise.reject(down) as never;
    process.nextTick(() => callback(down));
    return undefined as never;
  }
}

let t: TestDb;
beforeAll(async () => {
  setLogLevel('silent'); // graphile-worker's own lines (job failures) are expected here
  t = await createTestDb();
});
afterAll(async () => {
  await t.drop();
});

describe('a worker pool lost while its runner starts', () => {
  it('hands back the jobs it locked and a new runner runs them', async () => {
    const pool = new FlakyPool({ connectionString: t.url, max: 6 });
    pool.on('error', () => {});
    await sql`select graphile_worker.add_job('flaky', '{}'::json)`.execute(t.db);
    let runs = 0;
    let registrations = 0;
    let letRegister!: () => void;
    const registering = new Promise<void>((resolve) => (letRegister = resolve));
    const logger = pino({ level: 'silent' });
    const starting = startSupervisedRunner({
      db: t.db,
      pool,
      concurrency: 1,
      logger,
      availability: new DatabaseAvailability(logger),
      // The first pool's id is recorded only after the outage: the window where it shuts down.
      onWorkerPool: () => (registrations++ === 0 ? registering : Promise.resolve()),
      taskList: {
        flaky: async () => {
          runs++;
          // The job's work is done; recording its completion fails, and the pool shuts down.
          if (runs === 1) pool.failing = true;
        },
      },
    });
    await expect.poll(() => runs, { timeout: 10_000 }).toBe(1);
    await new Promise((resolve) => setTimeout(resolve, 500));
    pool.failing = false;
    letRegister();
    const runner = await starting;
    try {
      await expect.poll(() => runs, { timeout: 15_000 }).toBe(2);
      const jobsLeft = async () =>
        (
          await sql<{
            n: number;
          }>`select count(*)::int as n from graphile_worker._private_jobs`.execute(t.db)
        ).rows[0]!.n;
      await expect.poll(jobsLeft, { timeout: 10_000 }).toBe(0);
      expect(registrations).toBeGreaterThanOrEqual(2);
    } finally {
      await runner.stop();
      await pool.end();
    }
  });

  it('stops a runner whose registration failed: nothing of it keeps running', async () => {
    const pool = new pg.Pool({ connectionString: t.url, max: 6 });
    pool.on('error', () => {});
    const logger = pino({ level: 'silent' });
    let runs = 0;
    const lost = Object.assign(new Error('Connection terminated unexpectedly'), {});
    const started = startSupervisedRunner({
      db: t.db,
      pool,
      concurrency: 1,
      logger,
      availability: new DatabaseAvailability(logger),
      onWorkerPool: () => Promise.reject(lost),
      taskList: {
        late: async () => {
          runs++;
        },
      },
    });
    await expect(started).rejects.toBe(lost);
    await sql`select graphile_worker.add_job('late', '{}'::json)`.execute(t.db);
    await new Promise((resolve) => setTimeout(resolve, 1500));
    expect(runs).toBe(0);
    // A runner left behind would hold its LISTEN connection, and the pool would never end.
    const ended = await Promise.race([
      pool.end().then(() => 'ended'),
      new Promise((resolve) => setTimeout(() => resolve('still held'), 5000)),
    ]);
    expect(ended).toBe('ended');
    await sql`delete from graphile_worker._private_jobs`.execute(t.db);
  });
});

/**
 * A pool whose first `get_job` that locks something runs on the server and commits, but whose
 * answer never arrives: what a Postgres restart at that moment does to graphile-worker.
 */
class LossyPool extends pg.Pool {
  lost = 0;

  override connect(...args: unknown[]): never {
    if (args.length > 0) return (super.connect as (...a: unknown[]) => never).apply(this, args);
    return super.connect().then((client) => {
      const query = client.query.bind(client) as (...a: unknown[]) => Promise<pg.QueryResult>;
      const lossy = async (...a: unknown[]) => {
        const result = await query(...a);
        const config = a[0] as { text?: string } | string;
        const text = typeof config === 'string' ? config : (config.text ?? '');
        if (this.lost === 0 && /locked_by = \$1::text/.test(text) && result.rowCount) {
          this.lost++;
          throw new Error('Connection terminated unexpectedly');
        }
        return result;
      };
      Object.assign(client, { query: lossy });
      return client;
    }) as never;
  }
}

describe('a lock whose get_job answer was lost', () => {
  it('is handed back with its attempt; a lock a worker took is left alone', async () => {
    const pool = new LossyPool({ connectionString: t.url, max: 6 });
    pool.on('error', () => {});
    const logger = pino({ level: 'silent' });
    const ran: string[] = [];
    let finishLong!: () => void;
    const long = new Promise<void>((resolve) => (finishLong = resolve));
    await sql`select graphile_worker.add_job('lost', '{"n":1}'::json)`.execute(t.db);
    const runner = await startSupervisedRunner({
      db: t.db,
      pool,
      concurrency: 2,
      logger,
      availability: new DatabaseAvailability(logger),
      onWorkerPool: () => Promise.resolve(),
      taskList: {
        lost: async (_payload, helpers) => {
          ran.push(`lost, attempt ${helpers.job.attempts}`);
        },
        long: async () => {
          ran.push('long');
          await long;
        },
      },
    });
    try {
      const locks = async () =>
        (
          await sql<{ id: string; attempts: number; task: string }>`
            select j.id::text, j.attempts, k.identifier as task
            from graphile_worker._private_jobs j
            join graphile_worker._private_tasks k on k.id = j.task_id
            where j.locked_by is not null order by j.id`.execute(t.db)
        ).rows;
      await expect.poll(() => pool.lost, { timeout: 10_000 }).toBe(1);
      await sql`select graphile_worker.add_job('long', '{}'::json)`.execute(t.db);
      await expect.poll(() => ran, { timeout: 10_000 }).toEqual(['long']);
      // The lost lock stays: graphile-worker would hold it for 4 hours.
      await new Promise((resolve) => setTimeout(resolve, 1500));
      const held = await locks();
      expect(held.map((l) => `${l.task} ${l.attempts}`)).toEqual(['lost 1', 'long 1']);
      expect(ran).toEqual(['long']);

      const released = await runner.releaseStrays(held);
      expect(released).toEqual([held[0]!.id]);
      await expect.poll(() => ran, { timeout: 15_000 }).toEqual(['long', 'lost, attempt 1']);
      // Run once, on its first counted attempt (the lost lock's is given back); the running job
      // kept its lock.
      expect(await runner.releaseStrays(held)).toEqual([]);
      // (Its completion is recorded a moment after it ran.)
      const lockNames = async () => (await locks()).map((l) => `${l.task} ${l.attempts}`);
      await expect.poll(lockNames, { timeout: 10_000 }).toEqual(['long 1']);
    } finally {
      finishLong();
      await runner.stop();
      await pool.end();
      await sql`delete from graphile_worker._private_jobs`.execute(t.db);
    }
  });
});
