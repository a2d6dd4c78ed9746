/**
 * Sixteen independent tickets on ONE repository, four workers in two factories (two pools, so the
 * ship lock is exercised across database sessions): every ticket must reach LIVE with zero
 * MERGE_CONFLICT, each merged exactly once, and the base branch must only ever have pointed at
 * commits whose tests passed on exactly that commit (bors' rule). No worktree named `merge` or
 * `live-*`, no scratch checkout left behind.
 */
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { pino } from 'pino';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ScriptStep } from '../../src/agents/scripted/script.js';
import { createTicket } from '../../src/engine/create-ticket.js';
import { verifyJournal } from '../../src/engine/verify-journal.js';
import { startFactory } from '../../src/worker/factory.js';
import { git } from '../../src/workspace/index.js';
import { addCheckRepo, checkRepoSteps } from '../helpers/check-repo.js';
import { createTestDb, type TestDb } from '../helpers/db.js';

const TICKETS = 16;
let t: TestDb;
let home: string;
let repoDir: string;

beforeAll(async () => {
  t = await createTestDb(20);
  home = await mkdtemp(path.join(os.tmpdir(), 'lw-one-repo-'));
  const steps: ScriptStep[] = [];
  for (let n = 1; n <= TICKETS; n++) steps.push(...checkRepoSteps(`one-${n}`));
  const script = path.join(home, 'script.json');
  await writeFile(script, JSON.stringify({ steps }));
  repoDir = await addCheckRepo(t.db, home, 'one', script, 4);
  for (let n = 1; n <= TICKETS; n++)
    await createTicket(t.db, { repo: 'one', title: `ticket ${n}`, actor: 'operator:test' });
}, 60_000);

afterAll(async () => {
  await t.drop();
  await rm(home, { recursive: true, force: true });
});

describe('many workers on one repository', () => {
  it('ships 16 tickets with 4 workers: all LIVE, no spurious conflict, main only ' +
    'at tested commits', async () => {
    const logger = pino({ level: 'silent' });
    const factories = await Promise.all(
      [1, 2].map(() =>
        startFactory({
          handle: t,
          home,
          concurrency: 2,
          maxActive: 4,
          untilIdle: true,
          logger,
          heartbeatMs: 1000,
        }),
      ),
    );
    const timer = setTimeout(() => void Promise.all(factories.map((f) => f.stop())), 170_000);
    try {
      await Promise.all(factories.map((f) => f.done));
    } finally {
      clearTimeout(timer);
      await Promise.all(factories.map((f) => f.stop()));
    }

    const { rows: states } = await sql<{ key: string; state: string }>`
      select key, state from loopwright.tickets order by key`.execute(t.db);
    expect(states.filter((s) => s.state !== 'LIVE')).toEqual([]);
    expect(states).toHaveLength(TICKETS);

    const { rows: bad } = await sql<{ n: number }>`
      select count(*)::int as n from loopwright.ticket_events
      where event_type in ('MERGE_CONFLICT', 'MERGE_CHECK_FAILED', 'CHECKOUT_DIRTY')`.execute(t.db);
    expect(bad[0]!.n).toBe(0);

    // Each ticket merged exactly once: one MERGED row each and one merge commit each on main.
    const { rows: merged } = await sql<{ commit: string }>`
      select event ->> 'commit' as commit from loopwright.ticket_events
      where event_type = 'MERGED'`.execute(t.db);
    expect(merged).toHaveLength(TICKETS);
    const firstParent = (
      await git(repoDir, ['rev-list', '--first-parent', 'main', '--not', 'main~16'])
    ).split('\n');
    expect(new Set(firstParent)).toEqual(new Set(merged.map((m) => m.commit)));
    const trailers = await git(repoDir, [
      'log',
      '--first-parent',
      '--format=%(trailers:key=Loopwright-Ticket,valueonly)',
      'main~16..main',
    ]);
    expect(new Set(trailers.split('\n').filter(Boolean)).size).toBe(TICKETS);

    // bors: every commit main pointed at passed the test command on exactly that commit, before.
    const { rows: tested } = await sql<{ commit: string }>`
      select (content::json ->> 'commit') as commit from loopwright.artifacts
      where kind = 'gate_result' and content::json ->> 'gate' = 'MERGE_TEST'
        and (content::json ->> 'passed')::boolean`.execute(t.db);
    const testedCommits = new Set(tested.map((r) => r.commit));
    for (const commit of firstParent) expect(testedCommits.has(commit)).toBe(true);

    const worktrees = await git(repoDir, ['worktree', 'list', '--porcelain']);
    expect(worktrees).not.toMatch(/\/(merge|live-[^/\n]*)\n/);
    expect(await readdir(path.join(home, 'tmp')).catch(() => [])).toEqual([]);
    expect(await git(repoDir, ['status', '--porcelain'])).toBe('');
    expect((await verifyJournal(t.db)).mismatches).toEqual([]);
  }, 180_000);
});
