/**
 * An agent that breaks its own workspace leaves a journaled outcome, never a ticket silently
 * "queued" behind a job that fails forever: after a few attempts the ticket escalates with
 * WORKSPACE_BROKEN and the error's first line, its dependent stays blocked behind it, and
 * `run --until-idle` ends. Tickets that were not broken still ship. Written against behaviour
 * (a journaled reason, nothing pending), not against how workspaces are laid out.
 */
import { spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ScriptStep } from '../../src/agents/scripted/script.js';
import { createTicket } from '../../src/engine/create-ticket.js';
import { verifyJournal } from '../../src/engine/verify-journal.js';
import { addCheckRepo, checkRepoSteps } from '../helpers/check-repo.js';
import { createTestDb, type TestDb } from '../helpers/db.js';

let t: TestDb;
let home: string;

/**
 * The ticket's steps with BUILD replaced by `breaker` (which writes a report as if all was well).
 */
function breaking(key: string, breaker: Partial<ScriptStep>): ScriptStep[] {
  return checkRepoSteps(key).map((step) =>
    step.match?.phase === 'build' ? { ...step, ...breaker, write: breaker.write ?? {} } : step,
  );
}

beforeAll(async () => {
  t = await createTestDb();
  home = await mkdtemp(path.join(os.tmpdir(), 'lw-broken-'));
  const steps = [
    ...breaking('b-1', { remove: ['.git'], write: { '.git': 'gitdir: /nonexistent\n' } }),
    ...breaking('b-2', { remove: ['.git'] }),
    ...checkRepoSteps('b-3'),
    ...checkRepoSteps('b-4'),
    ...checkRepoSteps('g-1'),
  ];
  const script = path.join(home, 'script.json');
  await writeFile(script, JSON.stringify({ steps }));
  await addCheckRepo(t.db, home, 'b', script, 3);
  // A repository whose directory disappears: every attempt at its work fails the same way.
  const gone = await addCheckRepo(t.db, home, 'g', script);
  await createTicket(t.db, { repo: 'g', title: 'in a vanished repo', actor: 'operator:test' });
  await rm(gone, { recursive: true, force: true });
  for (const [n, dependsOn] of [
    [1, []],
    [2, []],
    [3, []],
    [4, ['b-1']],
  ] as const)
    await createTicket(t.db, {
      repo: 'b',
      title: `ticket ${n}`,
      dependsOn: [...dependsOn],
      actor: 'operator:test',
    });
}, 60_000);

afterAll(async () => {
  await t?.drop();
  await rm(home, { recursive: true, force: true });
});

describe('an agent that breaks its workspace', () => {
  it('escalates its ticket with WORKSPACE_BROKEN after a few attempts, and run ' +
    '--until-idle ends', async () => {
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', 'src/cli/entry.ts', 'run', '--concurrency', '3', '--until-idle'],
      {
        cwd: process.cwd(),
        env: {
          PATH: process.env.PATH,
          HOME: process.env.HOME,
          LOOPWRIGHT_DATABASE_URL: t.url,
          LOOPWRIGHT_HOME: home,
          LOOPWRIGHT_LOG_LEVEL: 'warn',
        },
        stdio: ['ignore', 'ignore', 'pipe'],
      },
    );
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => void (stderr += d.toString()));
    const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
    expect(code, stderr).not.toBeNull();

    const tickets = (
      await sql<{ key: string; state: string; reason: string | null; detail: string | null }>`
        select key, state, snapshot -> 'context' ->> 'reason' as reason,
               snapshot -> 'context' ->> 'detail' as detail
        from loopwright.tickets order by key`.execute(t.db)
    ).rows;
    const byKey = Object.fromEntries(tickets.map((r) => [r.key, r]));
    for (const key of ['b-1', 'b-2']) {
      // Broken in BUILD: whichever defence sees it first (a workspace check, the report
      // contract, the job giving up), the outcome is journaled with a reason — not left waiting.
      expect(['ESCALATED', 'DEAD_LETTER'], JSON.stringify(byKey[key])).toContain(byKey[key]!.state);
      expect(byKey[key]!.reason).toBeTruthy();
    }
    // Work that cannot succeed however often it is tried: the job gives up after 3 attempts.
    expect(byKey['g-1'], JSON.stringify(byKey['g-1'])).toMatchObject({
      state: 'ESCALATED',
      reason: 'WORKSPACE_BROKEN',
    });
    expect(byKey['g-1']!.detail).toMatch(/^agent_run failed 3 times: /);
    expect(byKey['g-1']!.detail!.split('\n')).toHaveLength(1);
    expect(byKey['b-3']!.state).toBe('LIVE');
    expect(byKey['b-4']!.state).toBe('QUEUED'); // waits on b-1, which a person must look at
    const pending = await sql<{ n: number }>`
      select count(*)::int as n from graphile_worker.jobs
      where attempts < max_attempts and key not like 'lw:%:t:%'`.execute(t.db);
    expect(pending.rows[0]!.n).toBe(0);
    const events = await sql<{ n: number }>`
      select count(*)::int as n from loopwright.ticket_events
        where event_type = 'JOB_FAILED'`.execute(t.db);
    expect(events.rows[0]!.n).toBeGreaterThanOrEqual(1);
    expect((await verifyJournal(t.db)).mismatches).toEqual([]);
  }, 240_000);
});
