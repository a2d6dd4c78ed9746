/**
 * The faults a chaos cycle injects, each at a chosen moment: an orchestrator SIGKILLed while one
 * of its agents runs, while it holds a merge job, or right after a merge commit or effect row
 * appeared; Postgres restarted (`fast`, `immediate`) or down for seconds; every backend terminated;
 * an agent's process group SIGKILLed.
 */
import { execFile } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import { processStartTime } from '../../src/agents/reap.js';
import type { OwnPostgres } from './own-postgres.js';
import type { Fleet } from './fleet.js';
import type { Monitor } from './monitor.js';
import type { Scenario } from './scenario.js';

const run = promisify(execFile);

export const FAULT_KINDS = [
  'kill-orchestrator-agent',
  'kill-orchestrator-merge',
  'kill-orchestrator-commit',
  'pg-restart-fast',
  'pg-restart-immediate',
  'pg-terminate-backends',
  'pg-outage',
  'pg-crash-after-commit',
  'kill-agent',
] as const;
export type FaultKind = (typeof FAULT_KINDS)[number];

/** True for the faults that restart or stop Postgres. */
export const isPgRestart = (kind: FaultKind) => /^pg-(restart|outage|crash)/.test(kind);

/** Faults whose moment needs no work in progress (what is left once every ticket is final). */
export const needsNoWork = (kind: FaultKind) =>
  kind === 'pg-restart-fast' ||
  kind === 'pg-restart-immediate' ||
  kind === 'pg-outage' ||
  kind === 'pg-terminate-backends';

/** One injected fault. `landed` is false when its moment never came (nothing was done). */
export interface Cycle {
  readonly n: number;
  readonly kind: FaultKind;
  readonly landed: boolean;
  readonly detail: string;
  readonly atSeconds: number;
}

export interface FaultContext {
  readonly monitor: Monitor;
  readonly fleet: Fleet;
  readonly pg: OwnPostgres;
  readonly scenario: Scenario;
  readonly random: () => number;
  /** How long to wait for a fault's moment. */
  readonly momentMs: number;
  /** Tickets whose agent was killed already (a second kill would dead-letter a good ticket). */
  readonly agentKilled: Set<string>;
  /** Pid -> when the driver killed it (ms since epoch). */
  readonly killedAt: Map<number, number>;
}

type Outcome = { landed: boolean; detail: string };

/** Inject `kind` once. */
export async function injectFault(kind: FaultKind, c: FaultContext): Promise<Outcome> {
  switch (kind) {
    case 'kill-orchestrator-agent':
      return killOrchestrator(c, 'while its agent runs', () => poolsRunningAgents(c));
    case 'kill-orchestrator-merge':
      return killOrchestrator(c, 'during a merge', () => poolsHoldingMerges(c));
    case 'kill-orchestrator-commit':
      return killAfterCommit(c);
    case 'pg-restart-fast':
    case 'pg-restart-immediate': {
      const mode = kind === 'pg-restart-fast' ? 'fast' : 'immediate';
      const agents = await awaitMoment(c, () => poolsRunningAgents(c));
      await c.pg.restart(mode);
      return {
        landed: true,
        detail: `restart -m ${mode}, ${agents?.length ?? 0} agent(s) running`,
      };
    }
    case 'pg-outage': {
      const ms = 1500 + Math.floor(c.random() * 2500);
      await awaitMoment(c, () => poolsRunningAgents(c));
      await c.pg.outage(ms);
      return { landed: true, detail: `down ${ms} ms` };
    }
    case 'pg-terminate-backends': {
      await awaitMoment(c, () => poolsRunningAgents(c));
      return { landed: true, detail: `${await c.pg.terminateBackends()} backend(s) terminated` };
    }
    case 'pg-crash-after-commit':
      return crashAfterCommit(c);
    case 'kill-agent':
      return killAgent(c);
  }
}

interface Holder {
  readonly pool_pid: number;
  readonly key: string;
}

async function killOrchestrator(
  c: FaultContext,
  moment: string,
  probe: () => Promise<Holder[]>,
): Promise<Outcome> {
  const holders = await awaitMoment(c, probe);
  if (!holders) return { landed: false, detail: `no orchestrator ${moment} within the wait` };
  const victim = holders[Math.floor(c.random() * holders.length)]!;
  return killPool(c, victim, moment);
}

async function killPool(c: FaultContext, victim: Holder, moment: string): Promise<Outcome> {
  c.killedAt.set(victim.pool_pid, Date.now());
  const delay = 200 + Math.floor(c.random() * 1500);
  const killed = await c.fleet.killAndRestart(victim.pool_pid, delay);
  return killed
    ? {
        landed: true,
        detail: `pid ${victim.pool_pid} ${moment} (${victim.key}), back in ${delay} ms`,
      }
    : { landed: false, detail: `pid ${victim.pool_pid} was gone already` };
}

/** Orchestrators (ours, up) with an agent of theirs running. */
async function poolsRunningAgents(c: FaultContext): Promise<Holder[]> {
  const rows = await c.monitor.rows<Holder>(
    `select p.pid as pool_pid, t.key from loopwright.agent_runs r
     join loopwright.pools p on p.id = r.pool_id join loopwright.tickets t on t.id = r.ticket_id
     where r.status = 'running' and r.pid is not null and p.stopped_at is null`,
  );
  return ours(c, rows);
}

/** Orchestrators holding a locked merge job. */
async function poolsHoldingMerges(c: FaultContext): Promise<Holder[]> {
  return ours(c, await lockedJobs(c, ['merge']));
}

async function lockedJobs(c: FaultContext, tasks: string[] | null): Promise<Holder[]> {
  return c.monitor.rows<Holder>(
    `select p.pid as pool_pid, t.key from graphile_worker._private_jobs j
     join graphile_worker._private_tasks k on k.id = j.task_id
     join loopwright.pools p on j.locked_by = any(p.worker_ids)
     join loopwright.tickets t on t.id::text = j.payload->>'ticketId'
     where j.locked_by is not null and p.stopped_at is null
       and ($1::text[] is null or k.identifier = any($1::text[]))`,
    [tasks],
  );
}

function ours(c: FaultContext, rows: Holder[]): Holder[] {
  const pids = new Set(c.fleet.pids());
  return rows.filter((r) => pids.has(r.pool_pid));
}

/** A commit (or effect row) that just appeared: what it was and whose ticket. */
interface Landed {
  readonly what: string;
  readonly key: string;
}

/**
 * Wait for the next commit on a ticket branch (RED, BUILD: the orchestrator moved
 * `loopwright/<key>` in the repository), a merge commit on a base branch, or an effect row.
 */
async function awaitCommit(c: FaultContext): Promise<Landed | null> {
  const before = await refTips(c);
  const [since] = await c.monitor.rows<{ now: Date }>('select now() as now');
  return awaitMoment(c, async () => {
    for (const [ref, sha] of await refTips(c)) {
      if (before.get(ref) === sha) continue;
      const [repo, name] = ref.split(' ') as [string, string];
      if (name === 'refs/heads/main')
        return { what: 'merge commit', key: await mergedTicket(repo) };
      return { what: 'ticket commit', key: name.replace('refs/heads/loopwright/', '') };
    }
    const rows = await c.monitor.rows<{ key: string }>(
      `select t.key from loopwright.effects e join loopwright.tickets t on t.id = e.ticket_id
       where e.created_at > $1 order by e.created_at desc limit 1`,
      [since!.now],
    );
    return rows[0] ? { what: 'effect row', key: rows[0].key } : null;
  });
}

/** Right after a commit or effect: SIGKILL the process holding that ticket's job. */
async function killAfterCommit(c: FaultContext): Promise<Outcome> {
  const found = await awaitCommit(c);
  if (!found) return { landed: false, detail: 'no commit or effect within the wait' };
  const holders = ours(c, await lockedJobs(c, null));
  const victim =
    holders.find((h) => h.key === found.key) ??
    ({ pool_pid: c.fleet.pids()[0]!, key: 'no job held' } as Holder);
  return killPool(c, victim, `after a ${found.what} of ${found.key}`);
}

/** Right after a commit or effect, before its event can be journaled: crash Postgres. */
async function crashAfterCommit(c: FaultContext): Promise<Outcome> {
  const found = await awaitCommit(c);
  if (!found) return { landed: false, detail: 'no commit or effect within the wait' };
  await c.pg.restart('immediate');
  return { landed: true, detail: `restart -m immediate after a ${found.what} of ${found.key}` };
}

/** `<repo path> <ref>` -> commit, for the base branch and every ticket branch of every repo. */
async function refTips(c: FaultContext): Promise<Map<string, string>> {
  const tips = new Map<string, string>();
  for (const r of c.scenario.repos) {
    const { stdout } = await run('git', [
      ...['-C', r.path, 'for-each-ref', '--format=%(refname) %(objectname)'],
      ...['refs/heads/main', 'refs/heads/loopwright/'],
    ]);
    for (const line of stdout.trim().split('\n').filter(Boolean)) {
      const [ref, sha] = line.split(' ');
      tips.set(`${r.path} ${ref}`, sha!);
    }
  }
  return tips;
}

async function mergedTicket(repo: string): Promise<string> {
  const { stdout } = await run('git', ['-C', repo, 'log', '-1', '--format=%B', 'main']);
  return /Loopwright-Ticket: (\S+)/.exec(stdout)?.[1] ?? '?';
}

interface RunningAgent {
  readonly key: string;
  readonly pid: number;
  readonly pgid: number;
  readonly process_started_at: string;
}

/** SIGKILL one running agent's whole process group (once per ticket, never a designed failure). */
async function killAgent(c: FaultContext): Promise<Outcome> {
  const live = new Set(c.scenario.tickets.filter((t) => t.state === 'LIVE').map((t) => t.key));
  const agents = await awaitMoment(c, async () => {
    const rows = await c.monitor.rows<RunningAgent>(
      `select t.key, r.pid, r.pgid, r.process_started_at from loopwright.agent_runs r
       join loopwright.tickets t on t.id = r.ticket_id
       where r.status = 'running' and r.pid is not null and r.pgid is not null`,
    );
    return rows.filter(
      (r) =>
        live.has(r.key) &&
        !c.agentKilled.has(r.key) &&
        processStartTime(r.pid) === r.process_started_at,
    );
  });
  if (!agents) return { landed: false, detail: 'no agent running within the wait' };
  const victim = agents[Math.floor(c.random() * agents.length)]!;
  c.agentKilled.add(victim.key);
  try {
    process.kill(-victim.pgid, 'SIGKILL');
  } catch (error) {
    return { landed: false, detail: `group ${victim.pgid}: ${(error as Error).message}` };
  }
  return { landed: true, detail: `agent group ${victim.pgid} of ${victim.key}` };
}

/** Poll `probe` until it finds something (non-empty), or null after `momentMs`. */
async function awaitMoment<T>(
  c: FaultContext,
  probe: () => Promise<T | null | undefined | readonly unknown[]>,
): Promise<T | null> {
  const deadline = Date.now() + c.momentMs;
  while (Date.now() < deadline) {
    const found = await probe();
    if (found && (!Array.isArray(found) || found.length > 0)) return found as T;
    await sleep(100);
  }
  return null;
}
