/**
 * Recovery after SIGKILL: `loopwright run` is killed while an agent works; a new `run` starts at
 * once. Measured: kill -> the ticket's work running again (a fresh agent process under a new run
 * id), beside the baseline of a cold start (process spawn -> the first agent running) of the
 * same command, so what recovery adds to a start is the ratio.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { sql } from 'kysely';
import { packageRoot } from '../src/config/package-root.js';
import { insertRepository } from '../src/db/repositories.js';
import { createTicket } from '../src/engine/create-ticket.js';
import {
  CHECK_CMD,
  checkRepoSteps,
  makeCheckRepo,
  scriptedSettings,
} from '../test/helpers/check-repo.js';
import type { BenchDb } from './bench-db.js';
import { type Figure, ratioOf } from './report.js';

/** Every agent sleeps this long: the first is still at work when its orchestrator is killed. */
const AGENT_SLEEP_MS = 4000;

function startRun(bench: BenchDb, home: string): ChildProcess {
  const bin = path.join(packageRoot(), 'bin', 'loopwright.js');
  const { LOOPWRIGHT_DATABASE_URL: _ignored, ...env } = process.env;
  return spawn(process.execPath, [bin, 'run', '--no-console', '--concurrency', '1'], {
    env: { ...env, DATABASE_URL: bench.url, LOOPWRIGHT_HOME: home },
    stdio: 'ignore',
    cwd: home,
  });
}

/** The agent run at work now (its process started, not finished), other than `except`. */
async function runningAgent(bench: BenchDb, except: string | null): Promise<string | null> {
  const { rows } = await sql<{ id: string }>`
    select id from loopwright.agent_runs
    where process_started_at is not null and finished_at is null
      and id <> ${except ?? '00000000-0000-0000-0000-000000000000'}::uuid
    order by created_at desc limit 1`.execute(bench.db);
  return rows[0]?.id ?? null;
}

async function waitForAgent(bench: BenchDb, except: string | null): Promise<string> {
  const deadline = Date.now() + 120_000;
  for (;;) {
    const id = await runningAgent(bench, except);
    if (id) return id;
    if (Date.now() > deadline) throw new Error('recovery bench: no agent started in 2 minutes');
    await delay(20);
  }
}

async function stop(child: ChildProcess, signal: NodeJS.Signals): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill(signal);
  await exited;
}

export async function benchRecovery(bench: BenchDb): Promise<Figure[]> {
  const home = await mkdtemp(path.join(os.tmpdir(), 'lw-bench-recovery-'));
  const children: ChildProcess[] = [];
  try {
    const repo = path.join(home, 'repo');
    await makeCheckRepo(repo);
    const script = path.join(home, 'script.json');
    const steps = checkRepoSteps('rec-1').map((s) => ({ ...s, sleepMs: AGENT_SLEEP_MS }));
    await writeFile(script, JSON.stringify({ steps }));
    await insertRepository(bench.db, {
      name: 'rec',
      path: repo,
      test_cmd: CHECK_CMD,
      live_cmd: CHECK_CMD,
      // Unsandboxed, so the killed orchestrator's agent is left for the next one to reap.
      settings: JSON.stringify({ ...JSON.parse(scriptedSettings(script)), sandbox: 'none' }),
    });
    await createTicket(bench.db, { repo: 'rec', title: 'recovery', actor: 'bench' });
    const coldStarted = performance.now();
    const first = startRun(bench, home);
    children.push(first);
    const killedRun = await waitForAgent(bench, null);
    const cold = performance.now() - coldStarted;
    const killed = performance.now();
    await stop(first, 'SIGKILL');
    children.push(startRun(bench, home));
    await waitForAgent(bench, killedRun);
    const recovery = performance.now() - killed;
    const ratio = ratioOf(recovery, cold);
    return [
      {
        name: 'SIGKILL of `run` mid-agent -> the work running again under a new run',
        value: recovery,
        unit: 'ms',
        baseline: { name: 'cold start -> first agent running', value: cold },
        ratio,
        target: { text: '<= cold start + 1 s', met: recovery <= cold + 1000 },
      },
    ];
  } finally {
    for (const child of children) await stop(child, 'SIGTERM');
    await rm(home, { recursive: true, force: true });
  }
}
