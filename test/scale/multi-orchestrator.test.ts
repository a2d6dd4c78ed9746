/**
 * Five repositories x ten tickets (dependencies within and across repos, one infra ticket per repo)
 * and three `loopwright run` processes on one database, one of them killed with SIGKILL mid-run.
 * Every ticket must reach LIVE, and the journal must show that no ticket ever had two agent runs at
 * once, per-repo concurrency was never exceeded, infra tickets never overlapped and no ticket
 * started before its dependencies were LIVE.
 */
import { spawn, type ChildProcess } from 'node:child_process';
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

const REPOS = Number(process.env.LW_SCALE_REPOS ?? 5);
const PER_REPO = 10;
const REPO_CONCURRENCY = 2;
let t: TestDb;
let home: string;
const children: ChildProcess[] = [];

function startRun(): ChildProcess {
  const child = spawn(
    process.execPath,
    [
      '--import',
      'tsx',
      'src/cli/entry.ts',
      'run',
      '--concurrency',
      '2',
      '--max-active',
      '8',
      '--until-idle',
    ],
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
  children.push(child);
  return child;
}

const exited = (child: ChildProcess) =>
  new Promise<number | null>((resolve) =>
    child.exitCode !== null ? resolve(child.exitCode) : child.once('exit', (code) => resolve(code)),
  );

beforeAll(async () => {
  t = await createTestDb(30);
  home = await mkdtemp(path.join(os.tmpdir(), 'lw-scale-'));
  const steps: ScriptStep[] = [];
  for (let r = 1; r <= REPOS; r++)
    for (let n = 1; n <= PER_REPO; n++) steps.push(...checkRepoSteps(`r${r}-${n}`, 100));
  const script = path.join(home, 'script.json');
  await writeFile(script, JSON.stringify({ steps }));
  for (let r = 1; r <= REPOS; r++) {
    await addCheckRepo(t.db, home, `r${r}`, script, REPO_CONCURRENCY);
  }
  for (let r = 1; r <= REPOS; r++) {
    for (let n = 1; n <= PER_REPO; n++) {
      const dependsOn = [
        n % 3 === 0 ? `r${r}-${n - 1}` : null,
        r > 1 && n === 1 ? `r${r - 1}-1` : null,
      ].filter((k): k is string => k !== null);
      await createTicket(t.db, {
        repo: `r${r}`,
        title: `ticket ${n} of repo ${r}`,
        dependsOn,
        tags: n === PER_REPO ? ['infra'] : [],
        actor: 'operator:test',
      });
    }
  }
}, 60_000);

afterAll(async () => {
  for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
  await t.drop();
  await rm(home, { recursive: true, force: true });
});

async function waitFor<T>(
  probe: () => Promise<T | null | undefined | false>,
  ms: number,
): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await probe();
    if (value) return value;
    if (Date.now() > deadline) throw new Error('timed out waiting');
    await new Promise((r) => setTimeout(r, 200));
  }
}

describe('several orchestrators on one database', () => {
  it('finish every ticket with every invariant held, even when one is ' +
    'killed with SIGKILL', async () => {
    const [victim, a, b] = [startRun(), startRun(), startRun()];
    const victimRuns = await waitFor(async () => {
      const { rows } = await sql<{ id: string; pid: number; pool: string }>`
        select r.id, r.pid, p.id as pool from loopwright.pools p join loopwright.agent_runs r
          on r.pool_id = p.id
        where p.pid = ${victim.pid!} and r.status = 'running' and r.pid is not null`.execute(t.db);
      return rows.length > 0 ? rows : null;
    }, 60_000);
    victim.kill('SIGKILL');
    expect(await exited(victim)).toBe(null);
    const codes = await Promise.all([exited(a), exited(b)]);
    expect(codes).toEqual([0, 0]);

    const states = await sql<{
      state: string;
      n: number;
    }>`select state, count(*)::int as n from loopwright.tickets group by state`.execute(t.db);
    expect(states.rows).toEqual([{ state: 'LIVE', n: REPOS * PER_REPO }]);
    expect((await verifyJournal(t.db)).mismatches).toEqual([]);

    // The sweeper retired the killed pool, killed its orphaned agents, and their runs ran again
    // elsewhere.
    const pool = await sql<{
      stopped: boolean;
    }>`select stopped_at is not null as stopped from loopwright.pools
      where id = ${victimRuns[0]!.pool}`.execute(t.db);
    expect(pool.rows[0]!.stopped).toBe(true);
    for (const run of victimRuns) expect(() => process.kill(run.pid, 0)).toThrow();
    const unfinished = await sql<{
      n: number;
    }>`select count(*)::int as n from loopwright.agent_runs where status in ('queued',
      'running')`.execute(t.db);
    expect(unfinished.rows[0]!.n).toBe(0);
    // The dead run keeps its row (failed), and its ticket was re-dispatched under a fresh run id.
    for (const run of victimRuns) {
      const after = await sql<{
        status: string;
        error: string;
        ticket_id: string;
      }>`select status, error, ticket_id from loopwright.agent_runs where id = ${run.id}`.execute(
        t.db,
      );
      expect(after.rows[0]).toMatchObject({ status: 'failed', error: 'orchestrator pool died' });
      const replays = await sql<{
        n: number;
      }>`select count(*)::int as n from loopwright.ticket_events
        where ticket_id = ${after.rows[0]!.ticket_id} and event_type = 'REPLAY' and actor
          like 'worker:%'`.execute(t.db);
      expect(replays.rows[0]!.n).toBe(1);
    }

    // No ticket ever had two agent runs at once.
    const overlapping = await sql<{ ticket: string }>`
      select distinct t.key as ticket from loopwright.agent_runs x join loopwright.agent_runs y
        on x.ticket_id = y.ticket_id and x.id < y.id
       and x.started_at < coalesce(y.finished_at, now()) and y.started_at <
         coalesce(x.finished_at, now())
      join loopwright.tickets t on t.id = x.ticket_id`.execute(t.db);
    expect(overlapping.rows).toEqual([]);

    // Active intervals from the journal: first START to LIVE.
    const spans = await sql<{
      key: string;
      repo: string;
      infra: boolean;
      started: Date;
      live: Date;
    }>`
      select t.key, r.name as repo, 'infra' = any(t.tags) as infra,
        (select min(e.created_at) from loopwright.ticket_events e where e.ticket_id = t.id
          and e.event_type = 'START') as started,
        (select min(e.created_at) from loopwright.ticket_events e where e.ticket_id = t.id
          and e.to_state = 'LIVE') as live
      from loopwright.tickets t join loopwright.repositories r on r.id = t.repo_id`.execute(t.db);
    const maxOverlap = (rows: typeof spans.rows) => {
      const points = rows
        .flatMap(
          (s) =>
            [
              [+s.started, 1],
              [+s.live, -1],
            ] as const,
        )
        .sort((p, q) => p[0] - q[0] || p[1] - q[1]);
      let now = 0;
      let max = 0;
      for (const [, d] of points) max = Math.max(max, (now += d));
      return max;
    };
    for (let r = 1; r <= REPOS; r++)
      expect(maxOverlap(spans.rows.filter((s) => s.repo === `r${r}`))).toBeLessThanOrEqual(
        REPO_CONCURRENCY,
      );
    expect(maxOverlap(spans.rows.filter((s) => s.infra))).toBe(1);

    // No ticket started before its dependencies were LIVE.
    const early = await sql<{ ticket: string }>`
      select t.key as ticket from loopwright.ticket_dependencies d
      join loopwright.tickets t on t.id = d.ticket_id
      where (select min(created_at) from loopwright.ticket_events where ticket_id = d.ticket_id
        and event_type = 'START')
          < (select min(created_at) from loopwright.ticket_events
            where ticket_id = d.depends_on_id and to_state = 'LIVE')`.execute(t.db);
    expect(early.rows).toEqual([]);
  }, 600_000);
});
