/**
 * What must hold after a chaos run, each checked against the database, git and /proc — never
 * against what the orchestrators reported about themselves. Every check names what broke it.
 */
import { execFile } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, readlinkSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { processStartTime } from '../../src/agents/reap.js';
import { type Cycle, isPgRestart } from './faults.js';
import type { SelfExit } from './fleet.js';
import type { Monitor } from './monitor.js';
import type { Scenario } from './scenario.js';

const run = promisify(execFile);

export interface InvariantResult {
  readonly name: string;
  readonly ok: boolean;
  /** Counts when it holds; the offenders (first few) when it does not. */
  readonly detail: string;
}

export interface InvariantInput {
  readonly monitor: Monitor;
  readonly scenario: Scenario;
  readonly home: string;
  /** Runs `loopwright <args>` against the chaos database; resolves to its exit code and output. */
  readonly cli: (args: string[]) => Promise<{ code: number; output: string }>;
  /** Violations seen while the run was going (sampler). */
  readonly sampled: {
    readonly doubleRuns: readonly string[];
    readonly staleLocks: readonly string[];
    readonly agentsSeen: number;
  };
  readonly selfExits: readonly SelfExit[];
  readonly cycles: readonly Cycle[];
  readonly minCycles: number;
}

const result = (name: string, offenders: readonly string[], okDetail: string): InvariantResult => ({
  name,
  ok: offenders.length === 0,
  detail:
    offenders.length === 0
      ? okDetail
      : `${offenders.length}: ${offenders.slice(0, 5).join('; ')}` +
        (offenders.length > 5 ? '; ...' : ''),
});

/** Every invariant, in the order printed. */
export async function checkInvariants(i: InvariantInput): Promise<InvariantResult[]> {
  return [
    await finalStates(i),
    await journalContiguous(i),
    await verifyJournalClean(i),
    await oneLiveRunPerTicket(i),
    await mergedExactlyOnce(i),
    orphanProcesses(i, await agentPids(i)),
    await leftoverCheckouts(i),
    await deadPoolLocks(i),
    result(
      'no run process exited on its own',
      i.selfExits.map((e) => `pid ${e.pid} exit ${e.code ?? e.signal}: ${lastLine(e.stderrTail)}`),
      'none',
    ),
    cycleCount(i),
  ];
}

async function finalStates(i: InvariantInput): Promise<InvariantResult> {
  const rows = await i.monitor.rows<{ key: string; state: string; reason: string | null }>(
    `select key, state, snapshot->'context'->>'reason' as reason from loopwright.tickets`,
  );
  const byKey = new Map(rows.map((r) => [r.key, r]));
  const wrong = i.scenario.tickets.flatMap((t) => {
    const got = byKey.get(t.key);
    if (!got) return [`${t.key} missing`];
    const reasonOk = t.state !== 'ESCALATED' || got.reason === t.reason;
    return got.state === t.state && reasonOk
      ? []
      : [`${t.key} ${got.state}${got.reason ? ` (${got.reason})` : ''}, want ${t.state}`];
  });
  const extra = rows.filter((r) => !i.scenario.tickets.some((t) => t.key === r.key));
  const live = i.scenario.tickets.filter((t) => t.state === 'LIVE').length;
  return result(
    'every ticket in its intended final state',
    [...wrong, ...extra.map((r) => `${r.key} unexpected`)],
    `${live} LIVE, ${i.scenario.tickets.length - live} ESCALATED as designed`,
  );
}

async function journalContiguous(i: InvariantInput): Promise<InvariantResult> {
  const rows = await i.monitor.rows<{ key: string; n: number; lo: number; hi: number; v: number }>(
    `select t.key, count(e.id)::int as n, count(distinct e.seq)::int as distinct_n,
       min(e.seq) as lo, max(e.seq) as hi, t.version as v
     from loopwright.tickets t left join loopwright.ticket_events e on e.ticket_id = t.id
     group by t.id
     having count(e.id) = 0 or count(e.id) <> count(distinct e.seq) or min(e.seq) <> 1
        or max(e.seq) <> count(e.id) or max(e.seq) <> t.version`,
  );
  const n = await countOf(i.monitor, 'loopwright.ticket_events');
  return result(
    'journal seq contiguous per ticket',
    rows.map((r) => `${r.key}: ${r.n} rows, seq ${r.lo}..${r.hi}, version ${r.v}`),
    `${n} journal rows`,
  );
}

async function verifyJournalClean(i: InvariantInput): Promise<InvariantResult> {
  const { code, output } = await i.cli(['verify-journal', '--all']);
  return result(
    'verify-journal --all clean',
    code === 0 ? [] : [`exit ${code}: ${lastLine(output)}`],
    'exit 0',
  );
}

async function oneLiveRunPerTicket(i: InvariantInput): Promise<InvariantResult> {
  // A run of a killed pool stays 'running' until swept, but its process is gone (or is killed
  // by the sweeper before the replay dispatches): what counts is when each run really ran.
  const rows = await i.monitor.rows<{ key: string; x: string; y: string }>(
    `select t.key, x.id as x, y.id as y from loopwright.agent_runs x
     join loopwright.agent_runs y on x.ticket_id = y.ticket_id and x.id < y.id
      and x.started_at < coalesce(y.finished_at, now())
      and y.started_at < coalesce(x.finished_at, now())
     join loopwright.tickets t on t.id = x.ticket_id`,
  );
  const n = await countOf(i.monitor, 'loopwright.agent_runs');
  return result(
    'never two live runs per ticket',
    [
      ...rows.map((r) => `${r.key}: runs ${r.x.slice(0, 8)} and ${r.y.slice(0, 8)} overlap`),
      ...i.sampled.doubleRuns.map((s) => `sampled: ${s}`),
    ],
    `${n} runs, none overlapping; ${i.sampled.agentsSeen} agent processes sampled`,
  );
}

async function mergedExactlyOnce(i: InvariantInput): Promise<InvariantResult> {
  const merges = new Map<string, number>();
  for (const repo of i.scenario.repos) {
    const { stdout } = await run('git', [
      ...['-C', repo.path, 'log', '--first-parent', '--merges', '--format=%B%x00', 'main'],
    ]);
    for (const body of stdout.split('\0')) {
      const key = /^Loopwright-Ticket: (\S+)$/m.exec(body)?.[1];
      if (key) merges.set(key, (merges.get(key) ?? 0) + 1);
    }
  }
  const effects = await i.monitor.rows<{ key: string; n: number }>(
    `select t.key, count(distinct e.result->>'commit')::int as n from loopwright.effects e
     join loopwright.tickets t on t.id = e.ticket_id
     where e.kind = 'merge' and (e.result->>'ok')::boolean group by t.key`,
  );
  const effectCount = new Map(effects.map((e) => [e.key, e.n]));
  const wrong = i.scenario.tickets.flatMap((t) => {
    const want = t.state === 'LIVE' ? 1 : 0;
    const got = merges.get(t.key) ?? 0;
    const recorded = effectCount.get(t.key) ?? 0;
    return got === want && recorded === want
      ? []
      : [`${t.key}: ${got} merge commit(s), ${recorded} merge effect(s), want ${want}`];
  });
  return result('each ticket merged exactly once', wrong, `${[...merges.values()].length} merges`);
}

interface AgentPid {
  readonly pid: number;
  readonly process_started_at: string | null;
}

async function agentPids(i: InvariantInput): Promise<AgentPid[]> {
  return i.monitor.rows<AgentPid>(
    'select pid, process_started_at from loopwright.agent_runs where pid is not null',
  );
}

/**
 * No process left that belongs to the run: recorded agent pids still alive, or anything whose
 * working directory or command line is inside the chaos home (agents, gates, sandboxes). The
 * chaos Postgres lives there too and is not counted.
 */
export function orphanProcesses(i: InvariantInput, agents: readonly AgentPid[]): InvariantResult {
  const alive = agents.filter(
    (a) => a.process_started_at && processStartTime(a.pid) === a.process_started_at,
  );
  const strays: string[] = [];
  const mine = new Set([process.pid, process.ppid]);
  for (const entry of readdirSync('/proc')) {
    const pid = Number(entry);
    if (!Number.isInteger(pid) || mine.has(pid)) continue;
    const cmdline = readProc(`/proc/${pid}/cmdline`).replaceAll('\0', ' ').trim();
    const comm = readProc(`/proc/${pid}/comm`).trim();
    if (!cmdline || comm === 'postgres' || /\bpostgres\b/.test(cmdline.split(' ')[0] ?? ''))
      continue;
    let cwd = '';
    try {
      cwd = readlinkSync(`/proc/${pid}/cwd`);
    } catch {}
    if (inside(cwd, i.home) || cmdline.includes(i.home))
      strays.push(`pid ${pid} ${cmdline.slice(0, 80)}`);
  }
  return result(
    'no orphan process (agent, gate, sandbox)',
    [...alive.map((a) => `agent pid ${a.pid} still alive`), ...strays],
    `${agents.length} agent processes, all gone`,
  );
}

async function leftoverCheckouts(i: InvariantInput): Promise<InvariantResult> {
  const rows = await i.monitor.rows<{ key: string; path: string; status: string }>(
    `select t.key, w.path, w.status from loopwright.tickets t
     join loopwright.workspaces w on w.ticket_id = t.id where t.state in ('LIVE', 'CANCELLED')`,
  );
  const offenders = rows.flatMap((r) => [
    ...(r.status !== 'removed' ? [`${r.key} workspace ${r.status}`] : []),
    ...(existsSync(r.path) ? [`${r.key} workspace dir ${r.path} exists`] : []),
  ]);
  const scratch = path.join(i.home, 'tmp');
  if (existsSync(scratch))
    offenders.push(...readdirSync(scratch).map((e) => `scratch checkout ${path.join(scratch, e)}`));
  for (const repo of i.scenario.repos) {
    const { stdout } = await run('git', ['-C', repo.path, 'worktree', 'list', '--porcelain']);
    const trees = stdout.split('\n').filter((l) => l.startsWith('worktree '));
    if (trees.length !== 1) offenders.push(`${repo.name}: ${trees.length} worktrees registered`);
    if (/^prunable/m.test(stdout)) offenders.push(`${repo.name}: prunable worktree`);
  }
  return result(
    'no leftover workspace or temp checkout for final tickets',
    offenders,
    `${rows.length} workspaces removed`,
  );
}

async function deadPoolLocks(i: InvariantInput): Promise<InvariantResult> {
  // After the fleet stopped, every pool is dead: any lock left is held by a dead pool.
  const rows = await i.monitor.rows<{ id: string; task: string; locked_by: string }>(
    `select j.id::text, k.identifier as task, j.locked_by from graphile_worker._private_jobs j
     join graphile_worker._private_tasks k on k.id = j.task_id
     where j.locked_by is not null and j.locked_by not in (
       select unnest(worker_ids) from loopwright.pools where stopped_at is null)`,
  );
  return result(
    'no job locked by a dead pool',
    [
      ...rows.map((r) => `job ${r.id} (${r.task}) locked by ${r.locked_by}`),
      ...i.sampled.staleLocks.map((s) => `sampled: ${s}`),
    ],
    'none',
  );
}

function cycleCount(i: InvariantInput): InvariantResult {
  const landed = i.cycles.filter((c) => c.landed);
  const pg = landed.filter((c) => isPgRestart(c.kind)).length;
  const offenders = [
    ...(landed.length < i.minCycles ? [`${landed.length} cycles landed, want ${i.minCycles}`] : []),
    ...(pg === 0 ? ['no Postgres restart among the faults'] : []),
  ];
  return result(
    'fault cycles, Postgres restarts among them',
    offenders,
    `${landed.length} cycles (${pg} Postgres restarts/outages)`,
  );
}

async function countOf(monitor: Monitor, table: string): Promise<number> {
  const rows = await monitor.rows<{ n: number }>(`select count(*)::int as n from ${table}`);
  return rows[0]?.n ?? 0;
}

function readProc(file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return '';
  }
}

function inside(p: string, dir: string): boolean {
  return p === dir || p.startsWith(`${dir}/`);
}

function lastLine(text: string): string {
  return (
    text
      .trim()
      .split('\n')
      .filter((l) => l.trim())
      .at(-1) ?? ''
  ).slice(0, 160);
}

/** The invariants as a fixed-width table. */
export function formatTable(rows: readonly InvariantResult[]): string {
  const width = Math.max(...rows.map((r) => r.name.length));
  return rows
    .map((r) => `${r.ok ? 'ok  ' : 'FAIL'}  ${r.name.padEnd(width)}  ${r.detail}`)
    .join('\n');
}
