/**
 * `loopwright run` rides out its database: a real `run` process (the CLI, as a subprocess) on a
 * Postgres server of the test's own, which is crash-restarted, has every backend terminated and
 * goes away for several seconds while agents run. The process must never exit on its own, every
 * ticket must still reach LIVE, and each outage must be logged once each way, not once per retry.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startOwnPostgres, type OwnPostgres } from '../../bench/chaos/own-postgres.js';
import type { ScriptStep } from '../../src/agents/scripted/script.js';
import { openDatabase, type Db } from '../../src/db/connection.js';
import { createTicket } from '../../src/engine/create-ticket.js';
import { verifyJournal } from '../../src/engine/verify-journal.js';
import { main } from '../../src/cli/main.js';
import { addCheckRepo, checkRepoSteps } from '../helpers/check-repo.js';

const TICKETS = 4;
let pg: OwnPostgres;
let handle: Db;
let home: string;
let child: ChildProcess | undefined;

beforeAll(async () => {
  pg = await startOwnPostgres('lw-outage-');
  handle = await openDatabase({ env: { LOOPWRIGHT_DATABASE_URL: pg.url } });
  home = await mkdtemp(path.join(os.tmpdir(), 'lw-outage-home-'));
  const steps: ScriptStep[] = [];
  for (let n = 1; n <= TICKETS; n++) steps.push(...checkRepoSteps(`o-${n}`, 1500));
  const script = path.join(home, 'script.json');
  await writeFile(script, JSON.stringify({ steps }));
  await addCheckRepo(handle.db, home, 'o', script, 2);
  for (let n = 1; n <= TICKETS; n++)
    await createTicket(handle.db, {
      repo: 'o',
      title: `ticket ${n}`,
      dependsOn: n === TICKETS ? ['o-1'] : [],
      actor: 'operator:test',
    });
}, 120_000);

afterAll(async () => {
  if (child && child.exitCode === null) child.kill('SIGKILL');
  await handle?.close();
  await pg?.destroy();
  await rm(home, { recursive: true, force: true });
});

async function runningAgents(): Promise<number> {
  for (;;) {
    try {
      const { rows } = await sql<{ n: number }>`
        select count(*)::int as n from loopwright.agent_runs where status = 'running' and pid is
          not null`.execute(handle.db);
      return rows[0]!.n;
    } catch {
      await new Promise((r) => setTimeout(r, 200));
    }
  }
}

async function untilAgentRuns(): Promise<void> {
  const deadline = Date.now() + 60_000;
  while ((await runningAgents()) === 0) {
    if (Date.now() > deadline) throw new Error('no agent started');
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe('run and a database that goes away', () => {
  it('keeps running through crash restarts, terminated backends and an ' +
    'outage, and finishes', async () => {
    let stderr = '';
    child = spawn(
      process.execPath,
      ['--import', 'tsx', 'src/cli/entry.ts', 'run', '--concurrency', '2', '--until-idle'],
      {
        cwd: process.cwd(),
        env: {
          PATH: process.env.PATH,
          HOME: process.env.HOME,
          LOOPWRIGHT_DATABASE_URL: pg.url,
          LOOPWRIGHT_HOME: home,
          LOOPWRIGHT_LOG_LEVEL: 'warn',
        },
        stdio: ['ignore', 'ignore', 'pipe'],
      },
    );
    child.stderr!.on('data', (d: Buffer) => void (stderr += d.toString()));
    const exit = new Promise<number | null>((resolve) => child!.once('exit', resolve));
    const exitedEarly = () => child!.exitCode !== null || child!.signalCode !== null;

    await untilAgentRuns();
    await pg.restart('immediate');
    expect(exitedEarly()).toBe(false);

    await untilAgentRuns();
    expect(await pg.terminateBackends()).toBeGreaterThan(0);
    expect(exitedEarly()).toBe(false);

    await untilAgentRuns();
    // While it is down, another shell's `status` says so in one line with exit 1.
    const outage = pg.outage(6000);
    await new Promise((r) => setTimeout(r, 1500));
    const io = { out: '', err: '' };
    const code = await main(['status'], {
      stdout: (s) => void (io.out += s),
      stderr: (s) => void (io.err += s),
      env: { LOOPWRIGHT_DATABASE_URL: pg.url, LOOPWRIGHT_HOME: home },
      cwd: home,
    });
    expect(code).toBe(1);
    expect(io.err.trim().split('\n')).toHaveLength(1);
    expect(io.err).toMatch(/database unavailable/i);
    await outage;
    expect(exitedEarly()).toBe(false);

    await pg.restart('fast');
    expect(await exit, stderr).toBe(0);

    const states = await sql<{ state: string; n: number }>`
      select state, count(*)::int as n from loopwright.tickets group by state`.execute(handle.db);
    expect(states.rows).toEqual([{ state: 'LIVE', n: TICKETS }]);
    expect((await verifyJournal(handle.db)).mismatches).toEqual([]);
    const down = stderr.match(/Database unavailable, retrying/g)?.length ?? 0;
    const back = stderr.match(/Database available again/g)?.length ?? 0;
    expect(down, stderr).toBeGreaterThanOrEqual(1);
    expect(down, stderr).toBeLessThanOrEqual(4);
    expect(back).toBe(down);
    expect(stderr).not.toMatch(/Unhandled rejection/);
  }, 300_000);
});
