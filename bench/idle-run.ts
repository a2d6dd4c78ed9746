/**
 * An idle `loopwright run` (no tickets) against a bare graphile-worker runner with one no-op task,
 * each on its own fresh database: CPU share, resident memory, and database transactions per second.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { packageRoot } from '../src/config/package-root.js';
import type { BenchDb } from './bench-db.js';
import { type Figure, ratioOf } from './report.js';

const SETTLE_MS = 4000;
const MAX_SETTLE_MS = 30_000;
const WINDOW_MS = Number(process.env.BENCH_IDLE_SECONDS ?? 20) * 1000;

const BARE_RUNNER = (workerPath: string) => `
import { run } from ${JSON.stringify(workerPath)};
const runner = await run({
  connectionString: process.env.DATABASE_URL,
  concurrency: 1,
  noHandleSignals: false,
  parsedCronItems: [],
  taskList: { noop: async () => {} },
});
await runner.promise;
`;

interface IdleFigures {
  readonly cpuPercent: number;
  readonly rssMiB: number;
  readonly txPerSecond: number;
}

async function transactions(bench: BenchDb, database: string): Promise<number> {
  const { rows } = await bench.pool.query<{ n: string }>(
    'select xact_commit + xact_rollback as n from pg_stat_database where datname = $1',
    [database],
  );
  return Number(rows[0]?.n ?? 0);
}

function cpuTicks(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return Number(fields[11]) + Number(fields[12]); // utime + stime
}

function rssMiB(pid: number): number {
  const line = readFileSync(`/proc/${pid}/status`, 'utf8').match(/VmRSS:\s+(\d+) kB/);
  return line ? Number(line[1]) / 1024 : Number.NaN;
}

/**
 * Start-up is over once the process has talked to its database and then stayed quiet (at most a
 * couple of transactions a second) for three seconds; on a loaded machine importing alone can
 * take far longer than SETTLE_MS.
 */
async function settle(child: ChildProcess, watcher: BenchDb, database: string) {
  await delay(SETTLE_MS);
  const first = await transactions(watcher, database);
  let previous = first;
  let quiet = 0;
  for (let waited = 0; waited < MAX_SETTLE_MS && quiet < 3; waited += 1100) {
    if (child.exitCode !== null) throw new Error(`idle bench: process exited ${child.exitCode}`);
    await delay(1100); // statistics are flushed at most once a second
    const now = await transactions(watcher, database);
    quiet = now - first >= 2 && now - previous <= 2 ? quiet + 1 : 0;
    previous = now;
  }
  // A backend that goes idle flushes its pending statistics up to 10 s later (PostgreSQL 15+,
  // PGSTAT_IDLE_INTERVAL): without this wait, start-up's transactions leak into the window.
  await delay(STATS_IDLE_FLUSH_MS);
}

/** Longer than PostgreSQL's idle statistics flush interval (10 s). */
const STATS_IDLE_FLUSH_MS = 11_000;

async function measure(child: ChildProcess, watcher: BenchDb, database: string) {
  await settle(child, watcher, database);
  const pid = child.pid!;
  const t0 = performance.now();
  const [c0, x0] = [cpuTicks(pid), await transactions(watcher, database)];
  await delay(WINDOW_MS);
  // pg_stat_database is flushed by backends at most once a second: wait for the window's last.
  await delay(1100);
  const [c1, x1] = [cpuTicks(pid), await transactions(watcher, database)];
  const seconds = (performance.now() - t0) / 1000;
  const ticks = 100; // CLK_TCK on Linux
  return {
    cpuPercent: ((c1 - c0) / ticks / seconds) * 100,
    rssMiB: rssMiB(pid),
    // minus the one transaction of our own second reading
    txPerSecond: Math.max(0, x1 - x0 - 1) / seconds,
  } satisfies IdleFigures;
}

async function idle(
  argv: readonly string[],
  bench: BenchDb,
  watcher: BenchDb,
  home: string,
): Promise<IdleFigures> {
  const database = new URL(bench.url).pathname.slice(1);
  const child = spawn(argv[0]!, argv.slice(1), {
    env: { ...process.env, DATABASE_URL: bench.url, LOOPWRIGHT_HOME: home },
    stdio: 'ignore',
    cwd: home,
  });
  try {
    return await measure(child, watcher, database);
  } finally {
    child.kill('SIGTERM');
    await new Promise((resolve) => child.once('exit', resolve));
  }
}

/** `bench` and `bare` are empty databases for the two processes; `watcher` reads statistics. */
export async function benchIdleRun(
  bench: BenchDb,
  bare: BenchDb,
  watcher: BenchDb,
): Promise<Figure[]> {
  const home = await mkdtemp(path.join(os.tmpdir(), 'lw-bench-idle-'));
  try {
    const runner = path.join(home, 'bare-runner.mjs');
    await writeFile(runner, BARE_RUNNER(createRequire(import.meta.url).resolve('graphile-worker')));
    const bin = path.join(packageRoot(), 'bin', 'loopwright.js');
    const ours = await idle([process.execPath, bin, 'run'], bench, watcher, home);
    const base = await idle([process.execPath, runner], bare, watcher, home);
    const txRatio = ratioOf(ours.txPerSecond, Math.max(base.txPerSecond, 0.01));
    return [
      {
        name: 'idle `loopwright run`: CPU',
        value: ours.cpuPercent,
        unit: '%',
        baseline: { name: 'bare graphile-worker runner', value: base.cpuPercent },
        ratio: ratioOf(ours.cpuPercent, Math.max(base.cpuPercent, 0.01)),
      },
      {
        name: 'idle `loopwright run`: resident memory',
        value: ours.rssMiB,
        unit: 'MiB',
        baseline: { name: 'bare graphile-worker runner', value: base.rssMiB },
        ratio: ratioOf(ours.rssMiB, base.rssMiB),
      },
      {
        name: 'idle `loopwright run`: database transactions',
        value: ours.txPerSecond,
        unit: '/s',
        baseline: { name: 'bare graphile-worker runner', value: base.txPerSecond },
        ratio: txRatio,
        target: { text: '<= 1 /s', met: ours.txPerSecond <= 1 },
      },
    ];
  } finally {
    await rm(home, { recursive: true, force: true });
  }
}
