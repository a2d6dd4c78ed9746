/**
 * A run whose commit reached the ticket branch but whose outcome never reached the journal (the
 * orchestrator died in between, and the run went out again under a new id): the fresh run must
 * not build on that unjudged commit. A RED run on top of it would find its tests already there,
 * "write no tests", and escalate RED_NOT_RED twice for a ticket that is fine.
 */
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { sql } from 'kysely';
import { describe, expect, it } from 'vitest';
import type { Kdb } from '../../src/db/connection.js';
import { openWorkspace, acceptCommit, stageCommit, git } from '../../src/workspace/index.js';
import { useLoopHarness } from '../helpers/loop-harness.js';
import { feature, match, scriptOf } from '../helpers/loop-script.js';

const harness = useLoopHarness();

describe('a commit of a run that never reported', () => {
  it('is taken off the branch before the fresh run of the phase starts', async () => {
    const f = feature('unjudged');
    const hangInRed = scriptOf([f], [{ match: match(f, 'generator', 'red'), hang: true }]);
    const lh = await harness({ script: hangInRed });
    const key = await lh.file(f.title);
    let lostRun = '';
    await lh.run({
      during: async (factory) => {
        lostRun = await runningRed(lh.db.db, key);
        // What the run's evaluation does just before journaling RED_CONFIRMED: its tests are
        // committed on the ticket branch, with its run id in the trailer. Then the process goes.
        const { wt } = await openWorkspace({
          repoPath: lh.repoPath,
          baseBranch: 'main',
          ticketKey: key,
          root: path.join(lh.home, 'worktrees'),
        });
        await writeFile(path.join(wt.path, f.testFile), f.test);
        const trailers = { runId: lostRun, ticket: key, phase: 'red' };
        await acceptCommit(wt, await stageCommit(wt, 'RED of the lost run', trailers));
        await writeFile(lh.scriptPath, JSON.stringify(scriptOf([f])));
        await factory.stop();
      },
    });
    const branch = `refs/heads/loopwright/${key}`;
    expect(await git(lh.repoPath, ['log', '-1', '--format=%B', branch])).toContain(lostRun);

    await lh.run();

    const o = await lh.outcome(key);
    expect(o.state).toBe('LIVE');
    expect(o.events('GATE_FAILED')).toEqual([]);
    const confirmed = o.events('RED_CONFIRMED');
    expect(confirmed).toHaveLength(1);
    expect(confirmed[0]!.event.runId).not.toBe(lostRun);
    // The RED commit on the branch is the fresh run's; the lost run's is in no branch's history.
    const redCommit = String(confirmed[0]!.event.commit);
    expect(await git(lh.repoPath, ['log', '-1', '--format=%B', redCommit])).toContain(
      String(confirmed[0]!.event.runId),
    );
    expect(await git(lh.repoPath, ['log', '--all', '--format=%B'])).not.toContain(lostRun);
  }, 90_000);
});

describe('a run whose end could not be recorded', () => {
  it('is closed when the retried job judges the commit it made; no fresh agent', async () => {
    const f = feature('unrecorded');
    const lh = await harness({ script: scriptOf([f]) });
    // The first attempt to record a BUILD run's end fails (a nextval is not rolled back with it).
    await sql`create sequence lw_test_fail_once`.execute(lh.db.db);
    await sql
      .raw(`
      create function lw_test_fail_once() returns trigger language plpgsql as $$
      begin
        if new.phase = 'build' and old.finished_at is null and new.finished_at is not null
           and nextval('lw_test_fail_once') = 1 then
          raise exception 'the test lost this write';
        end if;
        return new;
      end $$;
      create trigger lw_test_fail_once before update on loopwright.agent_runs
        for each row execute function lw_test_fail_once();`)
      .execute(lh.db.db);
    const key = await lh.file(f.title);
    await lh.run({ timeoutMs: 60_000 });

    const o = await lh.outcome(key);
    expect(o.state).toBe('LIVE');
    const builds = o.runs.filter((r) => r.phase === 'build');
    expect(builds.map((r) => [r.status, r.error])).toEqual([
      [
        'failed',
        'its end was not recorded (database unavailable); the commit it made was judged on a retry',
      ],
    ]);
    expect(o.runs.filter((r) => r.status === 'running')).toEqual([]);
  }, 90_000);
});

/** The id of the ticket's RED run once its agent is running. */
async function runningRed(db: Kdb, key: string) {
  for (const deadline = Date.now() + 30_000; Date.now() < deadline; ) {
    const { rows } = await sql<{ id: string }>`
      select r.id from loopwright.agent_runs r join loopwright.tickets t on t.id = r.ticket_id
      where t.key = ${key} and r.phase = 'red' and r.status = 'running'
        and r.pid is not null`.execute(db);
    if (rows[0]) return rows[0].id;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error('the RED agent never started');
}
