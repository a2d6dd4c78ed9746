import { createHash } from 'node:crypto';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readJournal } from '../../src/db/journal.js';
import type { Repository } from '../../src/db/repositories.js';
import { listRuns } from '../../src/db/runs.js';
import { getTicket } from '../../src/db/tickets.js';
import { applyEvent } from '../../src/engine/apply-event.js';
import { createTicket } from '../../src/engine/create-ticket.js';
import { rewindTicket } from '../../src/engine/rewind.js';
import { verifyJournal } from '../../src/engine/verify-journal.js';
import { inTransaction } from '../../src/engine/transaction.js';
import { addDependencies } from '../../src/db/dependencies.js';
import { BadInputError, DependencyCycleError, ImmutableRowError } from '../../src/errors.js';
import { mapDbError } from '../../src/db/errors.js';
import { createTestDb, type TestDb } from '../helpers/db.js';
import { addRepo, driveTo, newTicket, sendResult } from '../helpers/fixtures.js';

let t: TestDb;
let repo: Repository;

beforeAll(async () => {
  t = await createTestDb();
  repo = await addRepo(t.db, 'svc');
});
afterAll(() => t.drop());

async function agentJobs(ticketId: string) {
  const { rows } = await sql<{ key: string; payload: { runId: string } }>`
    select j.key, j.payload from graphile_worker._private_jobs j
      join graphile_worker._private_tasks k on k.id = j.task_id
    where k.identifier = 'agent_run' and j.key like ${`lw:${ticketId}:%`} order by j.id`.execute(
    t.db,
  );
  return rows;
}

/** Simulate lost work: the job vanished (crashed worker, wiped queue) without a result. */
async function loseWork(ticketId: string) {
  await sql`delete from graphile_worker._private_jobs where key
    like ${`lw:${ticketId}:r:%`}`.execute(t.db);
}

describe('replay', () => {
  it('re-issues the work of the current row once, however often it is asked', async () => {
    const key = await newTicket(t.db, repo);
    await driveTo(t.db, key, 'PLAN_DRAFT');
    const ticket = await getTicket(t.db, key);
    await loseWork(ticket.id);

    const first = await applyEvent(t.db, key, { type: 'REPLAY' }, { actor: 'operator:me' });
    const second = await applyEvent(t.db, key, { type: 'REPLAY' }, { actor: 'operator:me' });
    expect(first).toMatchObject({ status: 'applied', toState: 'PLAN_DRAFT' });
    expect(second).toMatchObject({ status: 'rejected', reason: 'WORK_PENDING' });

    const jobs = await agentJobs(ticket.id);
    expect(jobs).toHaveLength(1);
    const after = await getTicket(t.db, key);
    expect(jobs[0]!.payload.runId).toBe(after.current_run_id);
    expect(after.current_run_id).not.toBe(ticket.current_run_id);
    const runs = await listRuns(t.db, ticket.id);
    expect(runs.map((r) => r.status)).toEqual(['superseded', 'queued']);
  });

  it('does not replay while the work is still queued', async () => {
    const key = await newTicket(t.db, repo);
    await driveTo(t.db, key, 'BUILD');
    const outcome = await applyEvent(t.db, key, { type: 'REPLAY' }, { actor: 'operator:me' });
    expect(outcome).toMatchObject({ status: 'rejected', reason: 'WORK_PENDING' });
    expect(outcome.status === 'rejected' && outcome.detail).toMatch(/agent_run job \d+ \(queued\)/);
  });

  it('keeps counters when replaying (a replay is not a new attempt)', async () => {
    const key = await newTicket(t.db, repo);
    await driveTo(t.db, key, 'VALIDATE');
    await sendResult(t.db, key, {
      type: 'VERDICT',
      verdict: 'FAIL',
      findings: ['missing edge case'],
    });
    const before = await getTicket(t.db, key);
    await loseWork(before.id);
    await applyEvent(t.db, key, { type: 'REPLAY' }, { actor: 'operator:me' });
    const after = await getTicket(t.db, key);
    expect(after.state).toBe('BUILD');
    expect(after.snapshot.context).toMatchObject({ attempt: 2, findings: ['missing edge case'] });
  });
});

describe('rewind (replay --from)', () => {
  it(
    'appends a row carrying the old snapshot, withdraws queued work and re-issues ' +
      "the old row's work",
    async () => {
      const key = await newTicket(t.db, repo);
      await driveTo(t.db, key, 'BUILD');
      const ticket = await getTicket(t.db, key);
      const journal = await readJournal(t.db, ticket.id);
      const redRow = journal.find((r) => r.to_state === 'RED')!;
      // As if a worker had processed everything but the BUILD run that is still queued.
      await sql`delete from graphile_worker._private_jobs where key like ${`lw:${ticket.id}:%`}
        and payload->>'runId' is distinct from ${ticket.current_run_id}`.execute(t.db);

      const outcome = await rewindTicket(t.db, key, redRow.seq, {
        actor: 'operator:me',
        reason: 'tests were wrong',
      });
      expect(outcome).toMatchObject({
        toState: 'RED',
        rewoundTo: redRow.seq,
        withdrawnJobs: 1,
        seq: ticket.version + 1,
      });

      const after = await getTicket(t.db, key);
      expect(after.state).toBe('RED');
      expect(after.snapshot).toEqual(redRow.snapshot);
      const rows = await readJournal(t.db, ticket.id);
      expect(rows).toHaveLength(journal.length + 1);
      expect(rows.at(-1)).toMatchObject({
        event_type: 'REWIND',
        from_state: 'BUILD',
        to_state: 'RED',
        actor: 'operator:me',
      });
      const jobs = await agentJobs(ticket.id);
      expect(jobs.at(-1)!.payload.runId).toBe(after.current_run_id);
      expect((await verifyJournal(t.db, key)).mismatches).toEqual([]);
      // The abandoned BUILD run can no longer report.
      const stale = await applyEvent(
        t.db,
        key,
        { type: 'BUILD_READY', runId: ticket.current_run_id! },
        { actor: 'agent' },
      );
      expect(stale).toMatchObject({ status: 'rejected', reason: 'STALE_RUN' });
    },
  );

  it('refuses a row that is not earlier than the current one, changing nothing', async () => {
    const key = await newTicket(t.db, repo);
    await driveTo(t.db, key, 'PLAN_DRAFT');
    await expect(rewindTicket(t.db, key, 2, { actor: 'operator:me' })).rejects.toBeInstanceOf(
      BadInputError,
    );
    await expect(rewindTicket(t.db, key, 0, { actor: 'operator:me' })).rejects.toBeInstanceOf(
      BadInputError,
    );
    expect((await getTicket(t.db, key)).version).toBe(2);
  });
});

/** What a superuser with psql could do: edit the append-only journal behind the engine's back. */
async function tamperWithJournal(edit: () => Promise<unknown>): Promise<void> {
  await sql`alter table loopwright.ticket_events disable trigger journal_append_only`.execute(t.db);
  try {
    await edit();
  } finally {
    await sql`alter table loopwright.ticket_events enable trigger journal_append_only`.execute(
      t.db,
    );
  }
}

describe('verify-journal', () => {
  it('passes for journals the engine wrote, escalations and operator retries too', async () => {
    const key = await newTicket(t.db, repo);
    await driveTo(t.db, key, 'VALIDATE');
    for (let i = 0; i < 3; i++) {
      await sendResult(t.db, key, {
        type: 'VERDICT',
        verdict: 'FAIL',
        findings: [`finding ${i}`],
      });
      if (i < 2) await sendResult(t.db, key, { type: 'BUILD_READY' });
    }
    expect((await getTicket(t.db, key)).state).toBe('ESCALATED');
    await applyEvent(
      t.db,
      key,
      { type: 'RETRY', reason: 'more attempts' },
      { actor: 'operator:me' },
    );
    await driveTo(t.db, await newTicket(t.db, repo), 'LIVE');
    const result = await verifyJournal(t.db);
    expect(result.mismatches).toEqual([]);
    expect(result.rows).toBeGreaterThan(10);
  });

  it('names the first row whose stored snapshot was edited by hand', async () => {
    const key = await newTicket(t.db, repo);
    await driveTo(t.db, key, 'RED');
    const ticket = await getTicket(t.db, key);
    await tamperWithJournal(() =>
      sql`update loopwright.ticket_events set snapshot = jsonb_set(snapshot, '{context,round}', '4')
                where ticket_id = ${ticket.id} and seq = 3`.execute(t.db),
    );
    const { mismatches } = await verifyJournal(t.db, key);
    expect(mismatches).toHaveLength(1);
    expect(mismatches[0]).toMatchObject({
      ticket: key,
      seq: 3,
      problem: 'stored snapshot differs from the replayed one',
    });
  });

  it('reports a gap in the journal sequence', async () => {
    const key = await newTicket(t.db, repo);
    await driveTo(t.db, key, 'PLAN_NEGOTIATE');
    const ticket = await getTicket(t.db, key);
    await tamperWithJournal(() =>
      sql`delete from loopwright.ticket_events where ticket_id = ${ticket.id} and seq = 2`.execute(
        t.db,
      ),
    );
    const { mismatches } = await verifyJournal(t.db, key);
    expect(mismatches[0]).toMatchObject({ seq: 3, problem: 'journal gap: expected seq 2' });
  });
});

describe('database-enforced invariants', () => {
  it('refuses to update or delete journal rows', async () => {
    const key = await newTicket(t.db, repo);
    const ticket = await getTicket(t.db, key);
    const edit = t.db
      .updateTable('loopwright.ticket_events')
      .set({ actor: 'forged' })
      .where('ticket_id', '=', ticket.id)
      .execute();
    await expect(
      edit.catch((e) => {
        throw mapDbError(e);
      }),
    ).rejects.toBeInstanceOf(ImmutableRowError);
    const del = t.db
      .deleteFrom('loopwright.ticket_events')
      .where('ticket_id', '=', ticket.id)
      .execute();
    await expect(del).rejects.toThrow(/immutable/);
  });

  it('computes artifact digests itself and never lets an approved plan change', async () => {
    const key = await newTicket(t.db, repo);
    const ticket = await getTicket(t.db, key);
    const plan = await t.db
      .insertInto('loopwright.artifacts')
      .values({ ticket_id: ticket.id, kind: 'approved_plan', content: 'goal: x' })
      .returning(['id', 'sha256'])
      .executeTakeFirstOrThrow();
    expect(plan.sha256).toBe(createHash('sha256').update('goal: x').digest('hex'));
    await expect(
      t.db
        .updateTable('loopwright.artifacts')
        .set({ content: 'goal: y' })
        .where('id', '=', plan.id)
        .execute(),
    ).rejects.toThrow(/immutable/);
    await expect(
      t.db.deleteFrom('loopwright.artifacts').where('id', '=', plan.id).execute(),
    ).rejects.toThrow(/immutable/);
    const stored = await t.db
      .selectFrom('loopwright.artifacts')
      .select('content')
      .where('id', '=', plan.id)
      .executeTakeFirstOrThrow();
    expect(stored.content).toBe('goal: x');
  });
});

describe('dependencies', () => {
  it('refuses an edge that would close a cycle, naming it', async () => {
    const a = await newTicket(t.db, repo, 'a');
    const b = (
      await createTicket(t.db, { repo: repo.name, title: 'b', dependsOn: [a], actor: 'test' })
    ).key;
    const c = (
      await createTicket(t.db, { repo: repo.name, title: 'c', dependsOn: [b], actor: 'test' })
    ).key;
    const ta = await getTicket(t.db, a);
    const tc = await getTicket(t.db, c);
    const attempt = inTransaction(t.db, (trx) => addDependencies(trx, ta.id, [tc.id]));
    await expect(attempt).rejects.toBeInstanceOf(DependencyCycleError);
    await expect(
      inTransaction(t.db, (trx) => addDependencies(trx, ta.id, [tc.id])),
    ).rejects.toThrow(`${a} -> ${c} -> ${b} -> ${a}`);
    const edges = await t.db
      .selectFrom('loopwright.ticket_dependencies')
      .select('ticket_id')
      .where('ticket_id', '=', ta.id)
      .execute();
    expect(edges).toEqual([]);
  });
});
