import pg from 'pg';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { getTicket } from '../../src/db/tickets.js';
import { readJournal, readRejected } from '../../src/db/journal.js';
import { applyEvent } from '../../src/engine/apply-event.js';
import { createTicket } from '../../src/engine/create-ticket.js';
import { connect } from '../../src/db/connection.js';
import { BadInputError, NotFoundError } from '../../src/errors.js';
import { createTestDb, type TestDb } from '../helpers/db.js';
import { addRepo, driveTo, newTicket, sendResult } from '../helpers/fixtures.js';
import type { Repository } from '../../src/db/repositories.js';

let t: TestDb;
let repo: Repository;

beforeAll(async () => {
  t = await createTestDb();
  repo = await addRepo(t.db, 'app');
});
afterAll(() => t.drop());

async function jobsOf(ticketId: string) {
  const { rows } = await sql<{ task: string; key: string; payload: Record<string, unknown> }>`
    select t.identifier as task, j.key, j.payload from graphile_worker._private_jobs j
    join graphile_worker._private_tasks t on t.id = j.task_id
    where j.key like ${`lw:${ticketId}:%`} order by j.id`.execute(t.db);
  return rows;
}

describe('applyEvent', () => {
  it('applies an accepted event: journal row, ticket row and job in one commit', async () => {
    const key = await newTicket(t.db, repo);
    const outcome = await applyEvent(t.db, key, { type: 'START' }, { actor: 'scheduler' });
    expect(outcome).toMatchObject({
      status: 'applied',
      seq: 2,
      fromState: 'QUEUED',
      toState: 'PLAN_DRAFT',
    });
    const ticket = await getTicket(t.db, key);
    expect(ticket).toMatchObject({ state: 'PLAN_DRAFT', version: 2 });
    expect(ticket.current_run_id).toMatch(/^[0-9a-f-]{36}$/);
    const journal = await readJournal(t.db, ticket.id);
    expect(journal.map((r) => [r.seq, r.event_type, r.to_state])).toEqual([
      [1, 'CREATED', 'QUEUED'],
      [2, 'START', 'PLAN_DRAFT'],
    ]);
    const jobs = await jobsOf(ticket.id);
    expect(jobs.map((j) => j.task)).toEqual(['schedule', 'agent_run']);
    expect(jobs[1]!.payload).toMatchObject({
      role: 'lead',
      phase: 'plan_draft',
      runId: ticket.current_run_id,
      seq: 2,
    });
  });

  it('keeps a contiguous journal with no lost update under 16 concurrent connections ' +
    'and 1,000 events', async () => {
    const key = await newTicket(t.db, repo);
    const clients = Array.from({ length: 16 }, () =>
      connect({ url: t.url, source: 'DATABASE_URL' }, 1),
    );
    try {
      let next = 0;
      await Promise.all(
        clients.map(async (client) => {
          while (next < 1000) {
            const n = next++;
            const outcome = await applyEvent(
              client.db,
              key,
              { type: 'NOTE', text: `note ${n}` },
              { actor: 'test', idempotencyKey: `note-${n}` },
            );
            expect(outcome.status).toBe('applied');
          }
        }),
      );
    } finally {
      await Promise.all(clients.map((c) => c.close()));
    }
    const ticket = await getTicket(t.db, key);
    const journal = await readJournal(t.db, ticket.id);
    expect(journal).toHaveLength(1001);
    expect(journal.map((r) => r.seq)).toEqual(Array.from({ length: 1001 }, (_, i) => i + 1));
    expect(ticket.version).toBe(1001);
    expect((ticket.snapshot.context as { notes: number }).notes).toBe(1000);
    expect(new Set(journal.slice(1).map((r) => r.idempotency_key)).size).toBe(1000);
  }, 120_000);

  it('treats a repeated idempotency key as a no-op returning the first outcome', async () => {
    const key = await newTicket(t.db, repo);
    const first = await applyEvent(
      t.db,
      key,
      { type: 'START' },
      { actor: 'scheduler', idempotencyKey: 'start-1' },
    );
    const again = await applyEvent(
      t.db,
      key,
      { type: 'START' },
      { actor: 'scheduler', idempotencyKey: 'start-1' },
    );
    expect(first).toMatchObject({ status: 'applied', duplicate: false, seq: 2 });
    expect(again).toMatchObject({
      status: 'applied',
      duplicate: true,
      seq: 2,
      toState: 'PLAN_DRAFT',
    });
    const ticket = await getTicket(t.db, key);
    expect(ticket.version).toBe(2);
    expect(await readJournal(t.db, ticket.id)).toHaveLength(2);
    expect((await jobsOf(ticket.id)).filter((j) => j.task === 'agent_run')).toHaveLength(1);
    expect(await readRejected(t.db, ticket.id)).toHaveLength(0);
  });

  it(
    'applies a key sent by 8 connections at once exactly once; every sender gets that ' + 'outcome',
    async () => {
      const key = await newTicket(t.db, repo);
      const clients = Array.from({ length: 8 }, () =>
        connect({ url: t.url, source: 'DATABASE_URL' }, 1),
      );
      try {
        const send = (type: 'START' | 'UNBLOCK', idem: string) =>
          Promise.all(
            clients.map((c) =>
              applyEvent(c.db, key, { type }, { actor: 'test', idempotencyKey: idem }),
            ),
          );
        const started = await send('START', 'race-start');
        expect(started.map((o) => o.status)).toEqual(Array(8).fill('applied'));
        expect(started.filter((o) => !o.duplicate)).toHaveLength(1);
        expect(new Set(started.map((o) => (o.status === 'applied' ? o.seq : 0)))).toEqual(
          new Set([2]),
        );
        const refused = await send('UNBLOCK', 'race-unblock');
        expect(refused.map((o) => o.status)).toEqual(Array(8).fill('rejected'));
        expect(refused.filter((o) => !o.duplicate)).toHaveLength(1);
      } finally {
        await Promise.all(clients.map((c) => c.close()));
      }
      const ticket = await getTicket(t.db, key);
      expect(await readJournal(t.db, ticket.id)).toHaveLength(2);
      expect(await readRejected(t.db, ticket.id)).toHaveLength(1);
    },
  );

  it(
    'costs two round trips per transition of a ticket this process has not moved: begin ' +
      'with the lock and key look-up, then the one write with the commit and its announcement; ' +
      'one once it has',
    async () => {
      // Filed by another process: this one has no row of it to go by.
      const filer = connect({ url: t.url, source: 'DATABASE_URL' }, 1);
      const key = await newTicket(filer.db, repo).finally(() => filer.close());
      const sent = await roundTripsOf(() =>
        applyEvent(
          t.db,
          key,
          { type: 'START' },
          { actor: 'scheduler', idempotencyKey: 'count-start' },
        ),
      );
      expect(sent.result).toMatchObject({ status: 'applied', seq: 2 });
      // The announcement (pg_notify, after the commit) rides in the same socket write.
      expect(sent.trips).toEqual([
        ['begin', 'select'],
        ['with', 'commit', 'select'],
      ]);
      expect((await jobsOf((await getTicket(t.db, key)).id)).map((j) => j.task)).toEqual([
        'schedule',
        'agent_run',
      ]);
      // A repeated key is answered from the lock statement; a refusal is one insert with the
      // commit.
      const again = await roundTripsOf(() =>
        applyEvent(
          t.db,
          key,
          { type: 'START' },
          { actor: 'scheduler', idempotencyKey: 'count-start' },
        ),
      );
      expect(again.result).toMatchObject({ status: 'applied', duplicate: true, seq: 2 });
      // The known row refuses a second START, so it goes to the lock, which reads the answer.
      expect(again.trips).toEqual([['begin', 'select'], ['commit']]);
      const refused = await roundTripsOf(() =>
        applyEvent(t.db, key, { type: 'START' }, { actor: 'scheduler' }),
      );
      expect(refused.result).toMatchObject({ status: 'rejected', reason: 'NOT_ACCEPTED' });
      expect(refused.trips).toEqual([
        ['begin', 'select'],
        ['insert', 'commit'],
      ]);
      const known = await roundTripsOf(() =>
        applyEvent(t.db, key, { type: 'NOTE', text: 'known' }, { actor: 'test' }),
      );
      expect(known.result).toMatchObject({ status: 'applied', seq: 3 });
      expect(known.trips).toEqual([['with', 'select']]);
    },
  );

  it(
    'files a ticket in two round trips: begin with the repository look-up, then the one ' +
      'write (number, ticket, journal row, job) with the commit and its announcement; one in a ' +
      'known repository',
    async () => {
      // A process of its own, which has not filed in the repository yet.
      const filer = connect({ url: t.url, source: 'DATABASE_URL' }, 1);
      const filed = await roundTripsOf(() =>
        createTicket(filer.db, { repo: repo.name, title: 'counted', tags: ['x'], actor: 'test' }),
      ).finally(() => filer.close());
      expect(filed.trips).toEqual([
        ['begin', 'select'],
        ['with', 'commit', 'select'],
      ]);
      const again = await roundTripsOf(() =>
        createTicket(t.db, { repo: repo.name, title: 'known', actor: 'test' }),
      );
      await roundTripsOf(() => createTicket(t.db, { repo: repo.name, title: 'k', actor: 't' }));
      const known = await roundTripsOf(() =>
        createTicket(t.db, { repo: repo.name, title: 'known again', actor: 'test' }),
      );
      expect(again.trips.length).toBeLessThanOrEqual(2);
      expect(known.trips).toEqual([['with', 'select']]);
      const ticket = await getTicket(t.db, filed.result.key);
      expect(ticket).toMatchObject({ id: filed.result.id, title: 'counted', tags: ['x'] });
      expect(ticket.key).toBe(`app-${ticket.number}`);
      expect((await readJournal(t.db, ticket.id)).map((r) => r.event_type)).toEqual(['CREATED']);
      expect((await jobsOf(ticket.id)).map((j) => j.task)).toEqual(['schedule']);
      expect(filed.result.jobIds).toHaveLength(1);
      // Numbers stay consecutive whichever way a ticket was filed.
      const numbers = await Promise.all(
        [filed.result, again.result, known.result].map(
          async (c) => (await getTicket(t.db, c.key)).number,
        ),
      );
      expect(numbers).toEqual([ticket.number, ticket.number + 1, ticket.number + 3]);
      expect(await jobsOf(known.result.id)).toHaveLength(1);
    },
  );

  it("answers a rejected event's repeated key with the same rejection, stored once", async () => {
    const key = await newTicket(t.db, repo);
    const first = await applyEvent(
      t.db,
      key,
      { type: 'UNBLOCK' },
      { actor: 'test', idempotencyKey: 'u1' },
    );
    const again = await applyEvent(
      t.db,
      key,
      { type: 'UNBLOCK' },
      { actor: 'test', idempotencyKey: 'u1' },
    );
    expect(first).toMatchObject({ status: 'rejected', reason: 'NOT_ACCEPTED', duplicate: false });
    expect(again).toMatchObject({ status: 'rejected', reason: 'NOT_ACCEPTED', duplicate: true });
    expect(await readRejected(t.db, (await getTicket(t.db, key)).id)).toHaveLength(1);
  });

  it('rejects a result from a stale run and changes nothing', async () => {
    const key = await newTicket(t.db, repo);
    await driveTo(t.db, key, 'PLAN_DRAFT');
    const before = await getTicket(t.db, key);
    const stale = '00000000-0000-4000-8000-000000000000';
    const outcome = await applyEvent(
      t.db,
      key,
      { type: 'PLAN_READY', runId: stale, artifactId: 1 },
      { actor: 'agent' },
    );
    expect(outcome).toMatchObject({ status: 'rejected', reason: 'STALE_RUN' });
    const after = await getTicket(t.db, key);
    expect(after.version).toBe(before.version);
    expect(after.snapshot).toEqual(before.snapshot);
    const rejected = await readRejected(t.db, after.id);
    expect(rejected).toHaveLength(1);
    expect(rejected[0]!.reason).toMatch(/^STALE_RUN: run 0{8}-/);
  });

  it('fences the previous run once a new one is dispatched', async () => {
    const key = await newTicket(t.db, repo);
    await driveTo(t.db, key, 'PLAN_DRAFT');
    const oldRun = (await getTicket(t.db, key)).current_run_id!;
    await sendResult(t.db, key, { type: 'REPORT_INVALID', errors: ['summary: required'] });
    const newRun = (await getTicket(t.db, key)).current_run_id!;
    expect(newRun).not.toBe(oldRun);
    const late = await applyEvent(
      t.db,
      key,
      { type: 'PLAN_READY', runId: oldRun, artifactId: 1 },
      { actor: 'agent' },
    );
    expect(late).toMatchObject({ status: 'rejected', reason: 'STALE_RUN' });
    expect((await sendResult(t.db, key, { type: 'PLAN_READY', artifactId: 1 })).status).toBe(
      'applied',
    );
  });

  it('records an event the state refuses as rejected, without touching the ticket', async () => {
    const key = await newTicket(t.db, repo);
    const outcome = await applyEvent(t.db, key, { type: 'APPROVE' }, { actor: 'operator:me' });
    expect(outcome).toMatchObject({
      status: 'rejected',
      reason: 'NOT_ACCEPTED',
      detail: 'APPROVE is not accepted in QUEUED',
    });
    expect((await getTicket(t.db, key)).version).toBe(1);
  });

  it('drops an event whose expected version is stale', async () => {
    const key = await newTicket(t.db, repo);
    await applyEvent(t.db, key, { type: 'NOTE', text: 'moves the version' }, { actor: 'test' });
    const outcome = await applyEvent(
      t.db,
      key,
      { type: 'START' },
      { actor: 'timer', expectedVersion: 1 },
    );
    expect(outcome).toMatchObject({ status: 'rejected', reason: 'STALE_VERSION' });
    expect((await getTicket(t.db, key)).state).toBe('QUEUED');
  });

  it('refuses malformed events and unknown tickets as bad input, storing nothing', async () => {
    const key = await newTicket(t.db, repo);
    await expect(
      applyEvent(t.db, key, { type: 'PLAN_READY', runId: 'nope', artifactId: 1 } as never, {
        actor: 't',
      }),
    ).rejects.toBeInstanceOf(BadInputError);
    await expect(
      applyEvent(t.db, key, { type: 'EXPLODE' } as never, { actor: 't' }),
    ).rejects.toBeInstanceOf(BadInputError);
    await expect(
      applyEvent(t.db, 'app-99999', { type: 'START' }, { actor: 't' }),
    ).rejects.toBeInstanceOf(NotFoundError);
    const ticket = await getTicket(t.db, key);
    expect(ticket.version).toBe(1);
    expect(await readRejected(t.db, ticket.id)).toHaveLength(0);
  });

  it(
    'commits an event and its jobs together or not at all: killing the transaction before ' +
      'its commit leaves neither',
    async () => {
      const key = await newTicket(t.db, repo);
      const before = await getTicket(t.db, key);
      const admin = new pg.Client({ connectionString: t.url });
      await admin.connect();
      try {
        const attempt = applyEvent(
          t.db,
          key,
          { type: 'START' },
          {
            actor: 'scheduler',
            afterWrite: async (trx) => {
              const { rows } = await sql<{ pid: number }>`select pg_backend_pid() as pid`.execute(
                trx,
              );
              // The journal row, ticket and jobs are written; now the backend dies before the
              // commit.
              const written = await sql<{
                n: string;
              }>`select count(*) as n from loopwright.ticket_events
                where ticket_id = ${before.id}`.execute(trx);
              expect(Number(written.rows[0]!.n)).toBe(2);
              await admin.query('select pg_terminate_backend($1)', [rows[0]!.pid]);
            },
          },
        );
        await expect(attempt).rejects.toThrow();
      } finally {
        await admin.end();
      }
      const after = await getTicket(t.db, key);
      expect(after.version).toBe(1);
      expect(after.state).toBe('QUEUED');
      expect(await readJournal(t.db, after.id)).toHaveLength(1);
      expect((await jobsOf(after.id)).map((j) => j.task)).toEqual(['schedule']);
      // And the same event applies cleanly afterwards.
      expect((await applyEvent(t.db, key, { type: 'START' }, { actor: 'scheduler' })).status).toBe(
        'applied',
      );
    },
  );

  it('rolls back the journal row when the transaction fails after the write', async () => {
    const key = await newTicket(t.db, repo);
    const attempt = applyEvent(
      t.db,
      key,
      { type: 'START' },
      {
        actor: 'scheduler',
        afterWrite: async (trx) => {
          void trx;
          throw new Error('failed after the write');
        },
      },
    );
    await expect(attempt).rejects.toThrow('failed after the write');
    const after = await getTicket(t.db, key);
    expect(after.version).toBe(1);
    expect(await readJournal(t.db, after.id)).toHaveLength(1);
  });
});

/**
 * The statements `run` sends, grouped by round trip: a statement sent while none of its client's
 * earlier ones is still unanswered starts a new trip.
 */
async function roundTripsOf<T>(run: () => Promise<T>): Promise<{ result: T; trips: string[][] }> {
  const proto = pg.Client.prototype as unknown as { query: (...args: unknown[]) => unknown };
  const original = proto.query;
  const trips: string[][] = [];
  const unanswered = new Map<unknown, number>();
  proto.query = function (this: unknown, ...args: unknown[]) {
    const q = args[0] as string | { text: string };
    const verb = (typeof q === 'string' ? q : q.text).trim().split(/\s+/)[0]!.toLowerCase();
    const waiting = unanswered.get(this) ?? 0;
    if (waiting === 0) trips.push([verb]);
    else trips.at(-1)!.push(verb);
    unanswered.set(this, waiting + 1);
    const settled = () => unanswered.set(this, unanswered.get(this)! - 1);
    const callback = args.at(-1);
    // pg-pool's own query passes a callback (and gets no promise back).
    if (typeof callback === 'function') {
      const answered = (...result: unknown[]) => {
        settled();
        return (callback as (...r: unknown[]) => unknown)(...result);
      };
      return original.apply(this, [...args.slice(0, -1), answered]);
    }
    const answer = original.apply(this, args) as Promise<unknown>;
    answer.then(settled, settled);
    return answer;
  };
  try {
    return { result: await run(), trips };
  } finally {
    proto.query = original;
  }
}
