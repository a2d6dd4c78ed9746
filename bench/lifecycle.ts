/**
 * Tickets per second through the whole lifecycle (plan, critique, freeze, RED, BUILD, VALIDATE,
 * merge, live check) with instant scripted agents at 1, 2 and 4 workers, and the median delay from
 * a dependency going LIVE to its dependent starting (a chain of tickets, each waiting for the
 * last).
 */
import childProcess from 'node:child_process';
import { syncBuiltinESMExports } from 'node:module';
import { PROCESS_TAG_ENV } from '../src/agents/process-identity.js';
import { bySubcommand, type GitCounter } from './git-counter.js';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
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
import { type Baselines, benchBaselines, bothSides } from './bash-baseline.js';
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
  /** Unrounded: at a fraction of a ticket per second the rounded rate is coarse. */
  readonly secondsPerTicket: number;
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

/**
 * {@link benchLifecycle} with the bash loop and floor baselines timed over as many tickets just
 * before and just after its 1-worker run (see {@link bothSides}); `alsoInherited` times the bash
 * loop with the caller's whole environment too.
 */
export async function benchLifecycleBeside(
  bench: BenchDb,
  counter: GitCounter,
  options: { readonly alsoInherited?: boolean } = {},
) {
  const before = await benchBaselines(TICKETS, counter, 0);
  let after: Baselines | undefined;
  const lifecycle = await benchLifecycle(bench, counter, async () => {
    after = await benchBaselines(TICKETS, counter, 0, options);
  });
  return { lifecycle, baselines: bothSides(before, after!) };
}

/**
 * The lifecycle runs; `counter` (bench/git-counter.ts, installed by the caller so the baselines
 * run under it too) counts the 1-worker run's git processes.
 */
export async function benchLifecycle(
  bench: BenchDb,
  counter: GitCounter,
  /** Run right after the 1-worker run (a baseline timed on both sides of it). */
  afterOneWorker?: () => Promise<void>,
): Promise<{
  rows: LifecycleRow[];
  dependencyDelayMs: { median: number; samples: number };
  perTicket: PerTicket;
}> {
  const home = await mkdtemp(path.join(os.tmpdir(), 'lw-bench-'));
  try {
    const rows: LifecycleRow[] = [];
    let perTicket: PerTicket | undefined;
    for (const workers of WORKERS) {
      const keys = await setupRepo(bench, home, `w${workers}`, TICKETS, workers, false);
      const counted = workers === 1 ? await countSpawnsAndQueries(counter) : null;
      const spawns = workers === 1 ? recordSpawns() : null;
      const seconds = await runToIdle(bench, home, workers).finally(() => spawns?.stop());
      const counts = counted ? await counted.stop() : null;
      await assertAllLive(bench, keys);
      if (counts)
        perTicket = {
          gitSpawns: round(counts.git.length / TICKETS),
          gitBySubcommand: bySubcommand(counts.git, TICKETS),
          queries: round(counts.queries / TICKETS),
          dispatchMs: await dispatchLatency(bench, keys, spawns!.at),
        };
      rows.push({
        workers,
        tickets: TICKETS,
        seconds: round(seconds),
        ticketsPerSecond: round(TICKETS / seconds),
        secondsPerTicket: seconds / TICKETS,
      });
      if (workers === 1) await afterOneWorker?.();
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
    await rm(home, { recursive: true, force: true });
  }
}

/**
 * The 1-worker lifecycle on a repository of `padFiles` extra files (a workload unlike the tiny
 * check repository): seconds and git spawns per ticket.
 */
export async function benchLargeRepo(
  bench: BenchDb,
  counter: GitCounter,
  padFiles: number,
  tickets: number,
): Promise<{ secondsPerTicket: number; gitSpawns: number }> {
  const home = await mkdtemp(path.join(os.tmpdir(), 'lw-bench-large-'));
  try {
    const keys = await setupRepo(bench, home, 'large', tickets, 1, false, padFiles);
    const before = (await counter.lines()).length;
    const seconds = await runToIdle(bench, home, 1);
    const spawns = (await counter.lines()).length - before;
    await assertAllLive(bench, keys);
    return { secondsPerTicket: seconds / tickets, gitSpawns: round(spawns / tickets) };
  } finally {
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
  padFiles = 0,
): Promise<string[]> {
  const dir = path.join(home, name);
  await makeCheckRepo(dir, padFiles);
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

/** Start counting git spawns (lines in the log) and pg queries (every Client#query in-process). */
async function countSpawnsAndQueries(counter: GitCounter) {
  const gitBefore = (await counter.lines()).length;
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
      const git = (await counter.lines()).slice(gitBefore);
      if (process.env.BENCH_GIT_LOG) await writeFile(process.env.BENCH_GIT_LOG, git.join('\n'));
      return { git, queries };
    },
  };
}

/**
 * Spawn moments of tagged process groups (agents and gates) in this process, by process tag:
 * `child_process.spawn` is wrapped (and the ESM bindings synced) so the moment is node's clock
 * when the child exists, not /proc's 10 ms start-time ticks.
 */
function recordSpawns(): { readonly at: Map<string, number>; stop(): void } {
  const at = new Map<string, number>();
  const cp = childProcess;
  const original = cp.spawn;
  cp.spawn = function (this: unknown, ...args: Parameters<typeof original>) {
    const child = original.apply(this, args);
    const options = args.find((a) => a && typeof a === 'object' && !Array.isArray(a)) as
      | { env?: Record<string, string> }
      | undefined;
    const tag = options?.env?.[PROCESS_TAG_ENV];
    if (tag) child.once('spawn', () => at.set(tag, Date.now()));
    return child;
  } as typeof original;
  syncBuiltinESMExports();
  return {
    at,
    stop() {
      cp.spawn = original;
      syncBuiltinESMExports();
    },
  };
}

/** The journal row that dispatched each agent run (its clock_timestamp) -> the agent spawned. */
async function dispatchLatency(
  bench: BenchDb,
  keys: readonly string[],
  spawned: ReadonlyMap<string, number>,
) {
  const { rows } = await sql<{ written: Date; tag: string | null }>`
    select e.created_at as written, r.process_tag as tag
    from loopwright.agent_runs r
    join loopwright.tickets t on t.id = r.ticket_id
    join loopwright.ticket_events e on e.ticket_id = r.ticket_id and e.seq = r.seq
    where t.key = any(${[...keys]}::text[]) and r.process_tag is not null`.execute(bench.db);
  const ms = rows.flatMap((r) => {
    const at = r.tag ? spawned.get(r.tag) : undefined;
    return at === undefined ? [] : [at - r.written.getTime()];
  });
  return { p50: round(percentile(ms, 50)), p99: round(percentile(ms, 99)), samples: ms.length };
}
