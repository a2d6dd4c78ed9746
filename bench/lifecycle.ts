/**
 * Tickets per second through the whole lifecycle (plan, critique, freeze, RED, BUILD, VALIDATE,
 * merge, live check) with instant scripted agents at 1, 2 and 4 workers, and the median delay from
 * a dependency going LIVE to its dependent starting (a chain of tickets, each waiting for the
 * last).
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { sql } from 'kysely';
import pg from 'pg';
import { pino } from 'pino';
import { insertRepository } from '../src/db/repositories.js';
import { createTicket } from '../src/engine/create-ticket.js';
import { startFactory } from '../src/worker/factory.js';
import {
  CHECK_CMD,
  checkRepoSteps,
  makeCheckRepo,
  scriptedSettings,
} from '../test/helpers/check-repo.js';
import type { BenchDb } from './bench-db.js';
import { percentile } from './report.js';

const TICKETS = Number(process.env.BENCH_TICKETS ?? 8);
const CHAIN = Number(process.env.BENCH_CHAIN ?? 5);
/** Worker counts to measure (`BENCH_WORKERS=1` for a quick look at one worker). */
const WORKERS = (process.env.BENCH_WORKERS ?? '1,2,4').split(',').map(Number);

export interface LifecycleRow {
  readonly workers: number;
  readonly tickets: number;
  readonly seconds: number;
  readonly ticketsPerSecond: number;
}

/** What one ticket costs in subprocesses and round trips, from the 1-worker run. */
export interface PerTicket {
  readonly gitSpawns: number;
  /** Git spawns per ticket by subcommand, most first. */
  readonly gitBySubcommand: Readonly<Record<string, number>>;
  readonly queries: number;
  /** Journal row that dispatched an agent -> the agent's process started (ms). */
  readonly dispatchMs: { readonly p50: number; readonly p99: number; readonly samples: number };
}

export async function benchLifecycle(bench: BenchDb): Promise<{
  rows: LifecycleRow[];
  dependencyDelayMs: { median: number; samples: number };
  perTicket: PerTicket;
}> {
  const home = await mkdtemp(path.join(os.tmpdir(), 'lw-bench-'));
  const gitLog = await installGitCounter(home);
  try {
    const rows: LifecycleRow[] = [];
    let perTicket: PerTicket | undefined;
    for (const workers of WORKERS) {
      const keys = await setupRepo(bench, home, `w${workers}`, TICKETS, workers, false);
      const counted = workers === 1 ? await countSpawnsAndQueries(gitLog) : null;
      const seconds = await runToIdle(bench, home, workers);
      const counts = counted ? await counted.stop() : null;
      await assertAllLive(bench, keys);
      if (counts)
        perTicket = {
          gitSpawns: round(counts.git.length / TICKETS),
          gitBySubcommand: bySubcommand(counts.git),
          queries: round(counts.queries / TICKETS),
          dispatchMs: await dispatchLatency(bench, keys),
        };
      rows.push({
        workers,
        tickets: TICKETS,
        seconds: round(seconds),
        ticketsPerSecond: round(TICKETS / seconds),
      });
    }
    const chain = await setupRepo(bench, home, 'chain', CHAIN, 2, true);
    await runToIdle(bench, home, 2);
    await assertAllLive(bench, chain);
    return {
      rows,
      dependencyDelayMs: await dependencyDelays(bench, chain),
      perTicket: perTicket!,
    };
  } finally {
    process.env.PATH = gitLog.originalPath;
    await rm(home, { recursive: true, force: true });
  }
}

async function setupRepo(
  bench: BenchDb,
  home: string,
  name: string,
  count: number,
  concurrency: number,
  chained: boolean,
): Promise<string[]> {
  const dir = path.join(home, name);
  await makeCheckRepo(dir);
  const keys = Array.from({ length: count }, (_, i) => `${name}-${i + 1}`);
  const script = path.join(home, `${name}.json`);
  await writeFile(script, JSON.stringify({ steps: keys.flatMap((k) => checkRepoSteps(k)) }));
  await insertRepository(bench.db, {
    name,
    path: dir,
    test_cmd: CHECK_CMD,
    live_cmd: CHECK_CMD,
    concurrency,
    settings: scriptedSettings(script),
  });
  for (const [i] of keys.entries()) {
    await createTicket(bench.db, {
      repo: name,
      title: `bench ${i + 1}`,
      dependsOn: chained && i > 0 ? [keys[i - 1]!] : [],
      actor: 'bench',
    });
  }
  return keys;
}

async function runToIdle(bench: BenchDb, home: string, workers: number): Promise<number> {
  const started = performance.now();
  const factory = await startFactory({
    handle: bench,
    home,
    concurrency: workers,
    maxActive: workers,
    untilIdle: true,
    logger: pino({ level: 'silent' }),
    heartbeatMs: 1000,
  });
  await factory.done;
  return (performance.now() - started) / 1000;
}

async function assertAllLive(bench: BenchDb, keys: readonly string[]) {
  const { rows } = await sql<{
    key: string;
    state: string;
  }>`select key, state from loopwright.tickets where key = any(${[...keys]}::text[])
    and state <> 'LIVE'`.execute(bench.db);
  if (rows.length) throw new Error(`bench tickets not LIVE: ${JSON.stringify(rows)}`);
}

async function dependencyDelays(
  bench: BenchDb,
  keys: readonly string[],
): Promise<{ median: number; samples: number }> {
  const { rows } = await sql<{ ms: number }>`
    select extract(epoch from s.created_at - l.created_at) * 1000 as ms
    from loopwright.ticket_dependencies d
    join loopwright.tickets t on t.id = d.ticket_id
    join loopwright.ticket_events s on s.ticket_id = d.ticket_id and s.event_type = 'START'
    join loopwright.ticket_events l on l.ticket_id = d.depends_on_id and l.to_state = 'LIVE'
    where t.key = any(${[...keys]}::text[])`.execute(bench.db);
  const sorted = rows.map((r) => Number(r.ms)).sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  const median = sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
  return { median: Math.round(median), samples: sorted.length };
}

const round = (x: number) => Math.round(x * 100) / 100;

/**
 * A `git` first on PATH that appends one line per invocation to a log and execs the real git:
 * counts every git process of the run (the orchestrator's, and any a gate or agent starts).
 */
async function installGitCounter(home: string) {
  const bin = path.join(home, 'git-counter');
  const log = path.join(home, 'git-spawns.log');
  const real = execFileSync('sh', ['-c', 'command -v git'], { encoding: 'utf8' }).trim();
  await mkdir(bin, { recursive: true });
  await writeFile(
    path.join(bin, 'git'),
    `#!/bin/sh
# the subcommand: the first argument that is neither an option nor the value of -c / -C
sub=
skip=
for a in "$@"; do
  if [ -n "$skip" ]; then skip=; continue; fi
  case "$a" in -c|-C) skip=1 ;; -*) ;; *) sub=$a; break ;; esac
done
echo "$sub $LOOPWRIGHT_GIT_SITE" >> ${JSON.stringify(log)}
exec ${JSON.stringify(real)} "$@"
`,
    { mode: 0o755 },
  );
  const originalPath = process.env.PATH ?? '';
  process.env.PATH = `${bin}:${originalPath}`;
  return { log, originalPath };
}

/** Start counting git spawns (lines in the log) and pg queries (every Client#query in-process). */
async function countSpawnsAndQueries(gitLog: { log: string }) {
  const lines = async () =>
    (await readFile(gitLog.log, 'utf8').catch(() => '')).split('\n').filter(Boolean);
  const gitBefore = (await lines()).length;
  const proto = pg.Client.prototype as unknown as { query: (...args: unknown[]) => unknown };
  const original = proto.query;
  let queries = 0;
  proto.query = function (this: unknown, ...args: unknown[]) {
    queries++;
    return original.apply(this, args);
  };
  return {
    async stop() {
      proto.query = original;
      const git = (await lines()).slice(gitBefore);
      if (process.env.BENCH_GIT_LOG) await writeFile(process.env.BENCH_GIT_LOG, git.join('\n'));
      return { git, queries };
    },
  };
}

/** Log lines (`<subcommand> <site>`) -> spawns per ticket by subcommand, most first. */
function bySubcommand(lines: readonly string[]): Record<string, number> {
  const counts = new Map<string, number>();
  for (const line of lines) {
    const sub = line.split(' ')[0] || '(none)';
    counts.set(sub, (counts.get(sub) ?? 0) + 1);
  }
  return Object.fromEntries(
    [...counts].sort((a, b) => b[1] - a[1]).map(([sub, n]) => [sub, round(n / TICKETS)]),
  );
}

/**
 * Boot time in epoch ms, precise to /proc/uptime's 10 ms (btime in /proc/stat is whole seconds).
 */
function bootTimeMs(): number {
  const uptime = Number.parseFloat(readFileSync('/proc/uptime', 'utf8').split(' ')[0]!);
  return Date.now() - uptime * 1000;
}

async function dispatchLatency(bench: BenchDb, keys: readonly string[]) {
  const { rows } = await sql<{ created: Date; started: string | null }>`
    select r.created_at as created, r.process_started_at as started
    from loopwright.agent_runs r join loopwright.tickets t on t.id = r.ticket_id
    where t.key = any(${[...keys]}::text[]) and r.process_started_at is not null`.execute(bench.db);
  const ticksPerSecond = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }));
  const boot = bootTimeMs();
  const ms = rows.map(
    (r) => boot + (Number(r.started) / ticksPerSecond) * 1000 - r.created.getTime(),
  );
  return { p50: round(percentile(ms, 50)), p99: round(percentile(ms, 99)), samples: ms.length };
}
