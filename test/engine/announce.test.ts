/**
 * The engine's writes announce themselves after they commit (src/db/announce.ts): the ticket id
 * on the console's channel and the jobs on graphile-worker's, once per write, never before the
 * commit; the jobs are added by the quiet copy of add_jobs, which the migrator makes from the
 * installed one and the schema check compares with it (src/db/worker-tuning.ts).
 */
import { randomUUID } from 'node:crypto';
import { sql } from 'kysely';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect } from '../../src/db/connection.js';
import { schemaIsCurrent } from '../../src/db/schema-check.js';
import { migrate } from '../../src/db/migrate.js';
import { getTicket } from '../../src/db/tickets.js';
import { applyEvent } from '../../src/engine/apply-event.js';
import { createTicket } from '../../src/engine/create-ticket.js';
import type { Repository } from '../../src/db/repositories.js';
import { createTestDb, type TestDb } from '../helpers/db.js';
import { addRepo } from '../helpers/fixtures.js';

let t: TestDb;
let repo: Repository;

beforeAll(async () => {
  t = await createTestDb();
  repo = await addRepo(t.db, 'app');
});
afterAll(() => t.drop());

interface Heard {
  readonly channel: string;
  readonly payload: string;
}

/** A LISTEN connection on both channels, collecting what arrives. */
async function listen(): Promise<{
  heard: Heard[];
  settle(): Promise<void>;
  close(): Promise<void>;
}> {
  const client = new pg.Client({ connectionString: t.url });
  await client.connect();
  const heard: Heard[] = [];
  client.on('notification', (n) => heard.push({ channel: n.channel, payload: n.payload ?? '' }));
  await client.query('listen loopwright_console; listen "jobs:insert"');
  return {
    heard,
    // A round trip on the listening connection: everything committed before it has arrived.
    settle: async () => {
      await client.query('select 1');
    },
    close: () => client.end(),
  };
}

type Listener = Awaited<ReturnType<typeof listen>>;

/** Run `work` with a listener, closed afterwards whatever happens. */
async function withListener(work: (listener: Listener) => Promise<void>): Promise<void> {
  const listener = await listen();
  try {
    await work(listener);
  } finally {
    await listener.close();
  }
}

const QUIET = "to_regprocedure('loopwright.add_jobs_quiet(graphile_worker.job_spec[], boolean)')";

const jobCounts = (heard: readonly Heard[]) =>
  heard.filter((h) => h.channel === 'jobs:insert').map((h) => JSON.parse(h.payload).count);

describe('announcements', () => {
  it('files and moves a ticket with one console and one jobs notification per write', async () => {
    await withListener(async (listener) => {
      // A process of its own: its first filing looks the repository up in a transaction, the
      // second is one statement; its events are one statement each (it filed the tickets), and
      // an event from another process goes the locked way. All announce alike.
      const own = connect({ url: t.url, source: 'DATABASE_URL' }, 2);
      try {
        for (const title of ['first', 'second']) {
          const { id, key, jobIds } = await createTicket(own.db, {
            repo: repo.name,
            title,
            actor: 'test',
          });
          await listener.settle();
          expect(listener.heard.map((h) => h.channel)).toEqual([
            'loopwright_console',
            'jobs:insert',
          ]);
          expect(listener.heard[0]!.payload).toBe(id);
          expect(jobCounts(listener.heard)).toEqual([jobIds.length]);
          listener.heard.length = 0;
          const started = await applyEvent(own.db, key, { type: 'START' }, { actor: 'test' });
          expect(started.status).toBe('applied');
          await listener.settle();
          expect(listener.heard.filter((h) => h.channel === 'loopwright_console')).toEqual([
            { channel: 'loopwright_console', payload: id },
          ]);
          // One notification with every job of the write: add_jobs itself said nothing.
          expect(jobCounts(listener.heard)).toEqual([
            started.status === 'applied' ? started.jobIds.length : -1,
          ]);
          listener.heard.length = 0;
          const noted = await applyEvent(t.db, key, { type: 'NOTE', text: 'x' }, { actor: 't' });
          expect(noted.status).toBe('applied');
          await listener.settle();
          expect(listener.heard).toEqual([{ channel: 'loopwright_console', payload: id }]);
          listener.heard.length = 0;
        }
      } finally {
        await own.close();
      }
    });
  });

  it('announces a change with no jobs on the console only', async () => {
    const { key, id } = await createTicket(t.db, { repo: repo.name, title: 'n', actor: 'test' });
    await withListener(async (listener) => {
      await applyEvent(t.db, key, { type: 'NOTE', text: 'hello' }, { actor: 'test' });
      await listener.settle();
      expect(listener.heard).toEqual([{ channel: 'loopwright_console', payload: id }]);
    });
  });

  it('is heard only once the write has committed', async () => {
    const { key, id } = await createTicket(t.db, { repo: repo.name, title: 'c', actor: 'test' });
    await withListener(async (listener) => {
      let heardBeforeCommit: Heard[] | undefined;
      await applyEvent(
        t.db,
        key,
        { type: 'NOTE', text: 'held' },
        {
          actor: 'test',
          // The write is done and the transaction still open: nothing may have been heard.
          afterWrite: async () => {
            await new Promise((resolve) => setTimeout(resolve, 100));
            await listener.settle();
            heardBeforeCommit = [...listener.heard];
          },
        },
      );
      await listener.settle();
      expect(heardBeforeCommit).toEqual([]);
      expect(listener.heard).toEqual([{ channel: 'loopwright_console', payload: id }]);
      // A refused event changes nothing and announces nothing.
      listener.heard.length = 0;
      const stale = await applyEvent(
        t.db,
        key,
        { type: 'VERDICT', runId: randomUUID(), verdict: 'PASS' },
        { actor: 'test' },
      );
      expect(stale).toMatchObject({ status: 'rejected' });
      await listener.settle();
      expect(listener.heard).toEqual([]);
      expect((await getTicket(t.db, key)).version).toBe(2);
    });
  });
});

describe('the quiet add_jobs', () => {
  const quietSource = async () =>
    (
      await sql<{ src: string | null }>`
        select (select prosrc from pg_proc
          where oid = ${sql.raw(QUIET)}) as src`.execute(t.db)
    ).rows[0]!.src;

  it('is graphile-worker add_jobs without its NOTIFY, re-made when it is not', async () => {
    const source = await quietSource();
    expect(source).toMatch(/insert into "?graphile_worker"?\._private_jobs/);
    expect(source).not.toContain('pg_notify');
    expect(await schemaIsCurrent(t.pool)).toBe(true);
    // Edited by hand (or left from an older graphile-worker): the schema is not current, and
    // the migrator makes it again from the installed add_jobs.
    await sql`create or replace function loopwright.add_jobs_quiet(
        specs graphile_worker.job_spec[], job_key_preserve_run_at boolean default false)
      returns setof graphile_worker._private_jobs language sql
      as 'select * from graphile_worker.add_jobs(specs, job_key_preserve_run_at)'`.execute(t.db);
    expect(await schemaIsCurrent(t.pool)).toBe(false);
    await migrate(t.pool);
    expect(await schemaIsCurrent(t.pool)).toBe(true);
    expect(await quietSource()).toBe(source);
  });

  it('calls add_jobs when add_jobs no longer has the one NOTIFY to leave out', async () => {
    const scratch = await createTestDb(2);
    try {
      const { rows } = await scratch.pool.query<{ def: string }>(
        `select pg_get_functiondef(
          'graphile_worker.add_jobs(graphile_worker.job_spec[], boolean)'::regprocedure) as def`,
      );
      // A graphile-worker whose add_jobs announces some other way.
      const other = rows[0]!.def.replace(/perform pg_notify\('jobs:insert'[^;]*;/, '');
      expect(other).not.toBe(rows[0]!.def);
      await scratch.pool.query(other);
      expect(await schemaIsCurrent(scratch.pool)).toBe(false);
      await migrate(scratch.pool);
      expect(await schemaIsCurrent(scratch.pool)).toBe(true);
      const { rows: quiet } = await scratch.pool.query<{ src: string }>(
        `select prosrc as src from pg_proc where oid = ${QUIET}`,
      );
      expect(quiet[0]!.src).toContain('graphile_worker.add_jobs(specs, job_key_preserve_run_at)');
      // And it still adds jobs.
      const { rows: added } = await scratch.pool.query<{ id: string }>(
        `select id from loopwright.add_jobs_quiet(array[row('schedule', '{}'::json, null, now(),
           1, null, 0, null)::graphile_worker.job_spec])`,
      );
      expect(added).toHaveLength(1);
    } finally {
      await scratch.drop();
    }
  });
});
