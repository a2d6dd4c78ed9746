/**
 * The chaos driver: a Postgres of its own, ≥ 3 real repositories with ≥ 30 tickets, 2–3 real
 * `loopwright run` processes and no supervisor, and fault cycles injected while they work. At the
 * end it waits for the work to settle, stops the fleet with SIGTERM and checks the invariants.
 */
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { openDatabase } from '../../src/db/connection.js';
import { type Cycle, FAULT_KINDS, type FaultKind, injectFault, needsNoWork } from './faults.js';
import { type CliMode, cliArgv, cliEnv, Fleet, packageRootHere } from './fleet.js';
import { checkInvariants, type InvariantInput, type InvariantResult } from './invariants.js';
import { Monitor } from './monitor.js';
import { type OwnPostgres, startOwnPostgres } from './own-postgres.js';
import { sample } from './sampler.js';
import { createScenario, type Scenario } from './scenario.js';

export interface ChaosOptions {
  readonly cycles: number;
  readonly tickets: number;
  readonly repos: number;
  readonly orchestrators: number;
  readonly seed: number;
  readonly sandbox: 'bwrap' | 'none';
  /** How long RED and BUILD agents sleep. */
  readonly agentSleepMs: number;
  /** How long a fault waits for its moment. */
  readonly momentMs: number;
  /** Longest wait for the work to settle after the last cycle. */
  readonly settleSeconds: number;
  /** Pause between cycles: at least this, up to twice it. */
  readonly gapMs: number;
  /**
   * Keep the home and the database afterwards (prints where); the home then holds each
   * orchestrator's log (info level), `orchestrator-<slot>-<pid>.log`.
   */
  readonly keep?: boolean;
  /** Progress lines (stderr). */
  readonly progress?: (line: string) => void;
}

export interface ChaosResult {
  readonly ok: boolean;
  readonly seed: number;
  readonly seconds: number;
  readonly cycles: readonly Cycle[];
  readonly invariants: readonly InvariantResult[];
  readonly states: Readonly<Record<string, number>>;
  readonly orchestratorStarts: number;
  readonly home: string;
}

/** What a test may inspect or break between the checks and the clean-up. */
export interface ChaosEnv {
  readonly monitor: Monitor;
  readonly scenario: Scenario;
  readonly home: string;
  /** Re-run the checks (e.g. after planting a violation). */
  readonly recheck: () => Promise<InvariantResult[]>;
}

const FINAL = ['LIVE', 'ESCALATED', 'DEAD_LETTER', 'CANCELLED'];
/** A ticket `t` that waits on a dependency that ended without going LIVE: it cannot move. */
const WAITS_ON_ENDED = `select 1 from loopwright.ticket_dependencies d
  join loopwright.tickets x on x.id = d.depends_on_id
  where d.ticket_id = t.id and x.state in ('ESCALATED', 'DEAD_LETTER', 'CANCELLED')`;

/** Run the whole chaos scenario once; `afterChecks` sees the environment before it is removed. */
export async function runChaos(
  o: ChaosOptions,
  afterChecks?: (env: ChaosEnv) => Promise<void>,
): Promise<ChaosResult> {
  const started = Date.now();
  const say = (line: string) =>
    o.progress?.(`${Math.round((Date.now() - started) / 1000)}s ${line}`);
  const { root, cli } = packageRootHere();
  const pg = await startOwnPostgres('lw-chaos-pg-');
  const home = await mkdtemp(path.join(os.tmpdir(), 'lw-chaos-'));
  const monitor = new Monitor(pg.url);
  const fleet = new Fleet({
    size: o.orchestrators,
    databaseUrl: pg.url,
    home,
    cli,
    root,
    ...(o.keep ? { logDir: home } : {}),
  });
  try {
    const scenario = await setUp(pg, home, o);
    say(`${scenario.tickets.length} tickets in ${scenario.repos.length} repos; home ${home}`);
    fleet.start();
    const killedAt = new Map<number, number>();
    const stopSampling = new AbortController();
    const sampled = sample(monitor, home, killedAt, stopSampling.signal);
    await firstAgent(monitor, 120_000);
    const cycles = await injectCycles(o, { monitor, fleet, pg, scenario, killedAt }, say);
    const settled = await settle(monitor, fleet, o.settleSeconds);
    if (settled) say('work settled; stopping the fleet');
    else for (const line of await unsettled(monitor)) say(`did not settle: ${line}`);
    const stopCodes = await fleet.stop();
    for (const end of stopCodes.filter((e) => e.how === 'SIGKILL'))
      say(`pid ${end.pid} did not stop on SIGTERM; its stderr ended:\n${end.stderrTail}`);
    stopSampling.abort();
    const input: InvariantInput = {
      monitor,
      scenario,
      home,
      cli: (args) => runCli(root, cli, pg.url, home, args),
      sampled: await sampled,
      selfExits: [
        ...fleet.selfExits,
        ...stopCodes
          .filter((end) => end.how !== 143 && end.how !== 'SIGTERM')
          .map((end) => ({
            slot: -1,
            pid: end.pid,
            code: typeof end.how === 'number' ? end.how : null,
            signal: typeof end.how === 'string' ? end.how : null,
            stderrTail: `ended so when stopped with SIGTERM; stderr: ${end.stderrTail}`,
          })),
      ],
      cycles,
      minCycles: o.cycles,
    };
    const invariants = await checkInvariants(input);
    for (const line of await historyOfMisfits(monitor, scenario)) say(`history: ${line}`);
    const states = await stateCounts(monitor);
    await afterChecks?.({ monitor, scenario, home, recheck: () => checkInvariants(input) });
    return {
      ok: invariants.every((i) => i.ok),
      seed: o.seed,
      seconds: Math.round((Date.now() - started) / 100) / 10,
      cycles,
      invariants,
      states,
      orchestratorStarts: fleet.starts.length,
      home,
    };
  } finally {
    fleet.killAll();
    await monitor.close().catch(() => {});
    if (o.keep) say(`kept: home ${home}, database ${pg.url}`);
    else {
      await pg.destroy();
      await rm(home, { recursive: true, force: true });
    }
  }
}

async function setUp(pg: OwnPostgres, home: string, o: ChaosOptions): Promise<Scenario> {
  const handle = await openDatabase({ env: { LOOPWRIGHT_DATABASE_URL: pg.url } });
  try {
    return await createScenario(handle.db, {
      home,
      tickets: o.tickets,
      repos: o.repos,
      agentSleepMs: o.agentSleepMs,
      sandbox: o.sandbox,
    });
  } finally {
    await handle.close();
  }
}

interface CycleDeps {
  readonly monitor: Monitor;
  readonly fleet: Fleet;
  readonly pg: OwnPostgres;
  readonly scenario: Scenario;
  readonly killedAt: Map<number, number>;
}

/** Faults until `o.cycles` have landed (or three times as many were tried). */
async function injectCycles(
  o: ChaosOptions,
  d: CycleDeps,
  say: (line: string) => void,
): Promise<Cycle[]> {
  const random = mulberry32(o.seed);
  const context = { ...d, random, momentMs: o.momentMs, agentKilled: new Set<string>() };
  const cycles: Cycle[] = [];
  const t0 = Date.now();
  let round: FaultKind[] = [];
  for (let tried = 0; cycles.filter((c) => c.landed).length < o.cycles; tried++) {
    if (tried >= o.cycles * 3) break;
    if (round.length === 0) round = shuffle([...FAULT_KINDS], random);
    let kind = round.shift()!;
    // Once every ticket is final only the database faults have a moment left.
    if (!needsNoWork(kind) && (await workDone(d.monitor)))
      kind = random() < 0.5 ? 'pg-restart-immediate' : 'pg-restart-fast';
    const outcome = await injectFault(kind, context);
    const cycle = {
      n: cycles.length + 1,
      kind,
      ...outcome,
      atSeconds: Math.round((Date.now() - t0) / 100) / 10,
    };
    cycles.push(cycle);
    say(`cycle ${cycle.n} ${kind}: ${cycle.landed ? '' : '(no moment) '}${cycle.detail}`);
    await sleep(o.gapMs + Math.floor(random() * o.gapMs));
  }
  return cycles;
}

/** The fleet is warm once its first agent runs (the first fault needs something to hit). */
async function firstAgent(monitor: Monitor, ms: number): Promise<void> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    const [row] = await monitor.rows<{ n: number }>(
      "select count(*)::int as n from loopwright.agent_runs where status <> 'queued'",
    );
    if (row!.n > 0) return;
    await sleep(200);
  }
}

async function workDone(monitor: Monitor): Promise<boolean> {
  const [row] = await monitor.rows<{ n: number }>(
    'select count(*)::int as n from loopwright.tickets where state <> all($1::text[])',
    [FINAL],
  );
  return row!.n === 0;
}

/** All final, no open run, no job left; false after `seconds` or when the fleet is gone. */
async function settle(monitor: Monitor, fleet: Fleet, seconds: number): Promise<boolean> {
  const deadline = Date.now() + seconds * 1000;
  while (Date.now() < deadline && fleet.pids().length > 0) {
    const [row] = await monitor.rows<{ open: number; jobs: number }>(
      `select (select count(*) from loopwright.tickets t where state <> all($1::text[])
                and not exists (${WAITS_ON_ENDED}))
            + (select count(*) from loopwright.agent_runs where status in ('queued', 'running'))
              as open,
              (select count(*) from graphile_worker._private_jobs)::int as jobs`,
      [FINAL],
    );
    if (Number(row!.open) === 0 && row!.jobs === 0) return true;
    await sleep(500);
  }
  return false;
}

/** What is still open: tickets not final, open runs, and every job left with its last error. */
async function unsettled(monitor: Monitor): Promise<string[]> {
  const tickets = await monitor.rows<{ line: string }>(
    `select key || ' ' || state || coalesce('.' || substate, '') || ' v' || version as line
     from loopwright.tickets where state <> all($1::text[]) order by key`,
    [FINAL],
  );
  const runs = await monitor.rows<{ line: string }>(
    `select t.key || ' run ' || left(r.id::text, 8) || ' ' || r.phase || ' ' || r.status
       || coalesce(' pid ' || r.pid, '') as line
     from loopwright.agent_runs r join loopwright.tickets t on t.id = r.ticket_id
     where r.status in ('queued', 'running')`,
  );
  const jobs = await monitor.rows<{ line: string }>(
    `select 'job ' || k.identifier || ' ' || coalesce(j.payload->>'ticketId', '') || ' attempts '
       || j.attempts || '/' || j.max_attempts || coalesce(' locked by ' || j.locked_by, '')
       || ' run_at ' || to_char(j.run_at, 'HH24:MI:SS') || coalesce(' error: ' ||
       left(j.last_error, 120), '') as line
     from graphile_worker._private_jobs j
     join graphile_worker._private_tasks k on k.id = j.task_id`,
  );
  // Who holds what: a job locked for minutes is waiting on something (a lock, a connection).
  const backends = await monitor.rows<{ line: string }>(
    `select 'backend ' || a.pid || ' ' || coalesce(a.application_name, '') || ' ' ||
       coalesce(a.state, '') || coalesce(' wait ' || a.wait_event_type || '/' || a.wait_event, '')
       || coalesce(' xact ' || round(extract(epoch from now() - a.xact_start)) || 's', '')
       || coalesce(' blocked by ' || nullif(pg_blocking_pids(a.pid)::text, '{}'), '')
       || ': ' || left(regexp_replace(a.query, '\\s+', ' ', 'g'), 100) as line
     from pg_stat_activity a
     where a.datname = current_database() and a.pid <> pg_backend_pid()
       and a.backend_type = 'client backend'`,
  );
  return [...tickets, ...runs, ...jobs, ...backends].map((r) => r.line);
}

/** The journal of every ticket that did not end as intended: how it got there. */
async function historyOfMisfits(monitor: Monitor, scenario: Scenario): Promise<string[]> {
  const rows = await monitor.rows<{ key: string; state: string; line: string }>(
    `select t.key, t.state, e.seq || ' ' || e.event_type || ' ' || coalesce(e.from_state, '-')
       || '>' || e.to_state || ' ' || e.actor || coalesce(' ' || left(coalesce(
       e.event->>'reason', e.event->>'detail', e.event->>'errors'), 160), '') as line
     from loopwright.tickets t join loopwright.ticket_events e on e.ticket_id = t.id
     order by t.key, e.seq`,
  );
  const intended = new Map(scenario.tickets.map((t) => [t.key, t.state]));
  return rows.filter((r) => intended.get(r.key) !== r.state).map((r) => `${r.key} ${r.line}`);
}

async function stateCounts(monitor: Monitor): Promise<Record<string, number>> {
  const rows = await monitor.rows<{ state: string; n: number }>(
    'select state, count(*)::int as n from loopwright.tickets group by state order by state',
  );
  return Object.fromEntries(rows.map((r) => [r.state, r.n]));
}

/** `loopwright <args>` against the chaos database, as an operator would run it. */
function runCli(
  root: string,
  cli: CliMode,
  url: string,
  home: string,
  args: string[],
): Promise<{ code: number; output: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [...cliArgv(root, cli), ...args], {
      cwd: root,
      env: cliEnv(url, home),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (d: Buffer) => void (output += d.toString()));
    child.stderr.on('data', (d: Buffer) => void (output += d.toString()));
    child.once('exit', (code) => resolve({ code: code ?? 1, output }));
  });
}

/** A small seeded PRNG (mulberry32): the same seed gives the same fault schedule. */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function shuffle<T>(items: T[], random: () => number): T[] {
  for (let i = items.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [items[i], items[j]] = [items[j]!, items[i]!];
  }
  return items;
}
