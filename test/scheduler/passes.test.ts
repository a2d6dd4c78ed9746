/**
 * What a busy worker runs first: one scheduling pass absorbs the passes still waiting, and a
 * finished ticket's housekeeping queues behind work a ticket waits on.
 */
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { getTicket } from '../../src/db/tickets.js';
import { HOUSEKEEPING_PRIORITY } from '../../src/engine/work.js';
import { absorbWaitingPasses } from '../../src/scheduler/schedule.js';
import type { Repository } from '../../src/db/repositories.js';
import { createTestDb, type TestDb } from '../helpers/db.js';
import { addRepo, driveTo, newTicket } from '../helpers/fixtures.js';

let t: TestDb;
let repo: Repository;

beforeAll(async () => {
  t = await createTestDb();
  repo = await addRepo(t.db, 'app');
});
afterAll(() => t.drop());

async function queued() {
  const { rows } = await sql<{ task: string; key: string; priority: number }>`
    select task_identifier as task, key, priority from graphile_worker.jobs order by id`.execute(
    t.db,
  );
  return rows;
}

describe('scheduling passes', () => {
  it('absorbs the waiting passes, leaving held, not yet due and other jobs alone', async () => {
    const keys = [];
    for (let n = 0; n < 5; n++) keys.push(await newTicket(t.db, repo, `ticket ${n}`));
    expect((await queued()).map((j) => j.task)).toEqual(Array(5).fill('schedule'));
    const [held, later] = (await queued()).map((j) => j.key);
    // One pass a worker holds (running), one retry that is not due yet.
    await sql`update graphile_worker._private_jobs set locked_at = now(), locked_by = 'w1'
      where key = ${held}`.execute(t.db);
    await sql`update graphile_worker._private_jobs set run_at = now() + interval '1 minute'
      where key = ${later}`.execute(t.db);
    const agentJob = await sql`select graphile_worker.add_job('agent_run', '{}'::json,
      job_key => 'lw:other:r:1:0')`.execute(t.db);
    expect(agentJob.rows).toHaveLength(1);

    expect(await absorbWaitingPasses(t.db)).toBe(3);
    expect((await queued()).map((j) => j.key)).toEqual([held, later, 'lw:other:r:1:0']);
    expect(await absorbWaitingPasses(t.db)).toBe(0);
    await sql`delete from graphile_worker._private_jobs`.execute(t.db);
  });

  it("queues a finished ticket's workspace release behind work tickets wait on", async () => {
    const key = await newTicket(t.db, repo, 'to ship');
    await driveTo(t.db, key, 'LIVE');
    const ticket = await getTicket(t.db, key);
    const jobs = (await queued()).filter((j) => j.key.startsWith(`lw:${ticket.id}:`));
    const release = jobs.find((j) => j.task === 'release_workspace');
    const notify = jobs.find((j) => j.task === 'notify_dependents');
    expect(release?.priority).toBe(HOUSEKEEPING_PRIORITY);
    expect(notify?.priority).toBe(0);
    expect(jobs.filter((j) => j.task === 'agent_run').every((j) => j.priority === 0)).toBe(true);
  });
});
