/**
 * The one-statement way for a ticket this process moved last (src/engine/known-tickets.ts): it
 * is taken when the remembered row is current, and every way the row can have moved on — another
 * process, a `psql` edit that keeps the version, a repeated key, a concurrent event — falls back
 * to the locked way with the same result.
 */
import { sql } from 'kysely';
import pg from 'pg';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { connect } from '../../src/db/connection.js';
import { readJournal, readRejected } from '../../src/db/journal.js';
import { getTicket } from '../../src/db/tickets.js';
import { applyEvent } from '../../src/engine/apply-event.js';
import { createTicket } from '../../src/engine/create-ticket.js';
import { NotFoundError } from '../../src/errors.js';
import type { Repository } from '../../src/db/repositories.js';
import { createTestDb, type TestDb } from '../helpers/db.js';
import { addRepo, newTicket } from '../helpers/fixtures.js';

let t: TestDb;
let repo: Repository;

beforeAll(async () => {
  t = await createTestDb();
  repo = await addRepo(t.db, 'app');
});
afterAll(() => t.drop());
afterEach(() => {
  vi.restoreAllMocks();
});

/**
 * The names of the prepared statements sent while `work` runs (on any pool of this process),
 * less the announcements after the writes (test/engine/announce.test.ts counts those).
 */
async function statementsOf(work: () => Promise<unknown>): Promise<string[]> {
  const names: string[] = [];
  const query = pg.Client.prototype.query;
  vi.spyOn(pg.Client.prototype, 'query').mockImplementation(function (
    this: pg.Client,
    ...args: unknown[]
  ) {
    const [first] = args as [unknown];
    const name = typeof first === 'object' && first ? (first as { name?: string }).name : first;
    if (typeof name === 'string' && name !== 'lw_announce') names.push(name);
    return (query as (...a: unknown[]) => unknown).apply(this, args);
  } as typeof query);
  try {
    await work();
  } finally {
    vi.restoreAllMocks();
  }
  return names;
}

const note = (text: string) => ({ type: 'NOTE' as const, text });

async function notesOf(key: string): Promise<number> {
  const ticket = await getTicket(t.db, key);
  return (ticket.snapshot.context as unknown as { notes: number }).notes;
}

describe('a known ticket', () => {
  it('moves in one fenced statement, with no lock and no transaction around it', async () => {
    const key = await newTicket(t.db, repo);
    // Filing remembers the row it wrote.
    const first = await statementsOf(() =>
      applyEvent(t.db, key, { type: 'START' }, { actor: 'scheduler' }),
    );
    expect(first).toEqual(['lw_fenced_write_ticket_row_jobs']);

    const second = await statementsOf(() => applyEvent(t.db, key, note('one'), { actor: 't' }));
    expect(second).toEqual(['lw_fenced_write_ticket_row']);
    const ticket = await getTicket(t.db, key);
    expect(ticket).toMatchObject({ state: 'PLAN_DRAFT', version: 3 });
    const journal = await readJournal(t.db, ticket.id);
    expect(journal.map((r) => [r.seq, r.event_type])).toEqual([
      [1, 'CREATED'],
      [2, 'START'],
      [3, 'NOTE'],
    ]);
    expect(journal[2]!.snapshot).toEqual(ticket.snapshot);
  });

  it('enqueues the jobs of a change in the same statement', async () => {
    const key = await newTicket(t.db, repo);
    await applyEvent(t.db, key, note('seen'), { actor: 't' });
    let outcome: Awaited<ReturnType<typeof applyEvent>> | undefined;
    const sent = await statementsOf(async () => {
      outcome = await applyEvent(t.db, key, { type: 'START' }, { actor: 'scheduler' });
    });
    expect(sent).toEqual(['lw_fenced_write_ticket_row_jobs']);
    expect(outcome).toMatchObject({ status: 'applied', seq: 3, toState: 'PLAN_DRAFT' });
    const ticket = await getTicket(t.db, key);
    expect(outcome).toMatchObject({ runId: ticket.current_run_id });
    const { rows } = await sql<{ id: string; run: string }>`
      select j.id::text, j.payload->>'runId' as run from graphile_worker._private_jobs j
      join graphile_worker._private_tasks k on k.id = j.task_id
      where k.identifier = 'agent_run' and j.key like ${`lw:${ticket.id}:%`}`.execute(t.db);
    expect(rows).toEqual([{ id: expect.any(String), run: ticket.current_run_id }]);
    expect(outcome?.status === 'applied' && outcome.jobIds).toContain(rows[0]!.id);
    const { rows: runs } = await sql<{ status: string }>`
      select status from loopwright.agent_runs where id = ${ticket.current_run_id}`.execute(t.db);
    expect(runs).toEqual([{ status: 'queued' }]);
  });

  it('goes through the lock for a ticket this process has not seen', async () => {
    const other = connect({ url: t.url, source: 'DATABASE_URL' }, 1);
    let key: string;
    try {
      key = await newTicket(other.db, repo);
    } finally {
      await other.close();
    }
    const sent = await statementsOf(() => applyEvent(t.db, key, note('new'), { actor: 't' }));
    expect(sent[0]).toMatch(/^begin/);
    expect(sent[1]).toMatch(/^lw_lock_ticket/);
    expect(await getTicket(t.db, key)).toMatchObject({ version: 2 });
  });

  it('writes nothing over a row another process moved, then applies on the new row', async () => {
    const key = await newTicket(t.db, repo);
    await applyEvent(t.db, key, note('mine'), { actor: 't' });
    const other = connect({ url: t.url, source: 'DATABASE_URL' }, 1);
    try {
      await applyEvent(other.db, key, { type: 'START' }, { actor: 'scheduler' });
    } finally {
      await other.close();
    }
    let outcome: Awaited<ReturnType<typeof applyEvent>> | undefined;
    const sent = await statementsOf(async () => {
      outcome = await applyEvent(t.db, key, note('after'), { actor: 't' });
    });
    // Two statements, as the locked way costs: the miss (with the row) and the write.
    expect(sent).toEqual(['lw_fenced_write_ticket_row', 'lw_fenced_write_ticket_row']);
    expect(outcome).toMatchObject({ status: 'applied', seq: 4, fromState: 'PLAN_DRAFT' });
    const ticket = await getTicket(t.db, key);
    expect(ticket).toMatchObject({ state: 'PLAN_DRAFT', version: 4 });
    expect(await notesOf(key)).toBe(2);
  });

  it('keeps an edit made outside loopwright that left the version as it was', async () => {
    const key = await newTicket(t.db, repo);
    await applyEvent(t.db, key, note('one'), { actor: 't' });
    // An operator's psql edit: same version, a different row.
    await sql`update loopwright.tickets
      set snapshot = jsonb_set(snapshot, '{context,notes}', '100') where key = ${key}`.execute(
      t.db,
    );
    const sent = await statementsOf(() => applyEvent(t.db, key, note('two'), { actor: 't' }));
    // The write that missed returned the row as it is; the second is made on that row.
    expect(sent).toEqual(['lw_fenced_write_ticket_row', 'lw_fenced_write_ticket_row']);
    expect(await notesOf(key)).toBe(101);
    const ticket = await getTicket(t.db, key);
    expect((await readJournal(t.db, ticket.id)).map((r) => r.seq)).toEqual([1, 2, 3]);
  });

  it("answers with another process's outcome for its key; judges on the row it left", async () => {
    const key = await newTicket(t.db, repo);
    await applyEvent(t.db, key, note('seen here'), { actor: 't' });
    const other = connect({ url: t.url, source: 'DATABASE_URL' }, 1);
    try {
      await applyEvent(other.db, key, { type: 'START' }, { actor: 's', idempotencyKey: 'go' });
    } finally {
      await other.close();
    }
    // This process still remembers QUEUED, where START is accepted: the key decides.
    const repeated = await applyEvent(
      t.db,
      key,
      { type: 'START' },
      { actor: 's', idempotencyKey: 'go' },
    );
    expect(repeated).toMatchObject({ status: 'applied', duplicate: true, seq: 3 });
    // And a fresh START is judged on the row as it is now (PLAN_DRAFT), not as remembered.
    const fresh = await applyEvent(t.db, key, { type: 'START' }, { actor: 's' });
    expect(fresh).toMatchObject({ status: 'rejected', reason: 'NOT_ACCEPTED' });
    const ticket = await getTicket(t.db, key);
    expect(ticket).toMatchObject({ state: 'PLAN_DRAFT', version: 3 });
    expect((await readRejected(t.db, ticket.id)).map((r) => r.event_type)).toEqual(['START']);
  });

  it('answers a repeated key with the first outcome and writes it once', async () => {
    const key = await newTicket(t.db, repo);
    await applyEvent(t.db, key, { type: 'START' }, { actor: 'scheduler' });
    const options = { actor: 't', idempotencyKey: 'note:once' };
    const first = await applyEvent(t.db, key, note('once'), options);
    const again = await applyEvent(t.db, key, note('once'), options);
    expect(first).toMatchObject({ status: 'applied', duplicate: false, seq: 3 });
    expect(again).toMatchObject({ status: 'applied', duplicate: true, seq: 3 });
    const ticket = await getTicket(t.db, key);
    expect(ticket.version).toBe(3);
    expect(await notesOf(key)).toBe(1);
    // And after the repeat the ticket is known again: the next event takes one statement.
    const sent = await statementsOf(() => applyEvent(t.db, key, note('next'), { actor: 't' }));
    expect(sent).toEqual(['lw_fenced_write_ticket_row']);
  });

  it('records what it refuses, through the lock', async () => {
    const key = await newTicket(t.db, repo);
    await applyEvent(t.db, key, { type: 'START' }, { actor: 'scheduler' });
    const stale = await applyEvent(
      t.db,
      key,
      { type: 'PLAN_READY', artifactId: 1, runId: '00000000-0000-4000-8000-000000000000' },
      { actor: 'agent:old' },
    );
    expect(stale).toMatchObject({ status: 'rejected', reason: 'STALE_RUN' });
    const refused = await applyEvent(t.db, key, { type: 'START' }, { actor: 'scheduler' });
    expect(refused).toMatchObject({ status: 'rejected', reason: 'NOT_ACCEPTED' });
    const ticket = await getTicket(t.db, key);
    expect(ticket.version).toBe(2);
    const rejected = await readRejected(t.db, ticket.id);
    expect(rejected.map((r) => r.event_type)).toEqual(['PLAN_READY', 'START']);
  });

  it('keeps a contiguous journal when one pool sends many events of a ticket at once', async () => {
    const key = await newTicket(t.db, repo);
    await applyEvent(t.db, key, { type: 'START' }, { actor: 'scheduler' });
    const outcomes = await Promise.all(
      Array.from({ length: 40 }, (_, n) =>
        applyEvent(t.db, key, note(`n${n}`), { actor: 't', idempotencyKey: `burst-${n}` }),
      ),
    );
    expect(outcomes.every((o) => o.status === 'applied' && !o.duplicate)).toBe(true);
    const seqs = outcomes.map((o) => (o.status === 'applied' ? o.seq : 0)).sort((a, b) => a - b);
    expect(seqs).toEqual(Array.from({ length: 40 }, (_, n) => n + 3));
    const ticket = await getTicket(t.db, key);
    expect(ticket.version).toBe(42);
    expect(await notesOf(key)).toBe(40);
    expect((await readJournal(t.db, ticket.id)).map((r) => r.seq)).toEqual(
      Array.from({ length: 42 }, (_, n) => n + 1),
    );
  });

  it('is known per database: the same ticket id in another database is its own', async () => {
    const [one, two] = await Promise.all([createTestDb(2), createTestDb(2)]);
    try {
      const keys = await Promise.all(
        [one, two].map(async (db) => newTicket(db.db, await addRepo(db.db, 'app'))),
      );
      const [a, b] = await Promise.all([getTicket(one.db, keys[0]!), getTicket(two.db, keys[1]!)]);
      expect(a.id).toBe(b.id);
      await applyEvent(one.db, a.id, note('one'), { actor: 't' });
      await applyEvent(two.db, b.id, { type: 'START' }, { actor: 'scheduler' });
      await applyEvent(one.db, a.id, note('one again'), { actor: 't' });
      await applyEvent(two.db, b.id, note('two'), { actor: 't' });
      expect(await getTicket(one.db, a.id)).toMatchObject({ state: 'QUEUED', version: 3 });
      expect(await getTicket(two.db, b.id)).toMatchObject({ state: 'PLAN_DRAFT', version: 3 });
    } finally {
      await Promise.all([one.drop(), two.drop()]);
    }
  });
});

describe('a known repository', () => {
  it('files in one statement, and looks the repository up again once it changed', async () => {
    const other = await addRepo(t.db, 'filing');
    const file = (title: string) =>
      statementsOf(() => createTicket(t.db, { repo: other.name, title, actor: 't' }));
    expect((await file('first'))[1]).toBe('lw_repository_for_filing');
    expect(await file('second')).toEqual(['lw_file_ticket_jobs']);
    // An operator changes the repository's settings: the remembered row no longer holds.
    await sql`update loopwright.repositories
      set settings = '{"limits": {"maxAttempts": 1}}' where id = ${other.id}`.execute(t.db);
    const changed = await file('third');
    expect(changed[0]).toBe('lw_file_ticket_jobs');
    expect(changed).toContain('lw_repository_for_filing');
    const { rows } = await sql<{ title: string; number: number; attempts: number }>`
      select title, number, (snapshot->'context'->'limits'->>'maxAttempts')::int as attempts
      from loopwright.tickets where repo_id = ${other.id} order by number`.execute(t.db);
    expect(rows.map((r) => [r.title, r.number])).toEqual([
      ['first', 1],
      ['second', 2],
      ['third', 3],
    ]);
    // The third was filed with the settings as they are now.
    expect(rows[2]!.attempts).toBe(1);
    expect(rows[0]!.attempts).not.toBe(1);
    const { rows: jobs } = await sql<{ n: number }>`
      select count(*)::int as n from graphile_worker._private_jobs
      where payload->>'ticketId' = any(array(
        select id::text from loopwright.tickets where repo_id = ${other.id}))`.execute(t.db);
    expect(jobs).toEqual([{ n: 3 }]);
  });

  it('refuses a repository removed since, writing nothing', async () => {
    const gone = await addRepo(t.db, 'gone');
    await createTicket(t.db, { repo: gone.name, title: 'before', actor: 't' });
    await sql`update loopwright.repositories set removed_at = now() where id = ${gone.id}`.execute(
      t.db,
    );
    await expect(
      createTicket(t.db, { repo: gone.name, title: 'after', actor: 't' }),
    ).rejects.toThrow(NotFoundError);
    const { rows } = await sql<{ n: number }>`
      select count(*)::int as n from loopwright.tickets where repo_id = ${gone.id}`.execute(t.db);
    expect(rows).toEqual([{ n: 1 }]);
  });
});
