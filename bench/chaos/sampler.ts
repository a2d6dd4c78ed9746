/**
 * Watches the run while it goes: two live agent processes for one ticket (pid alive with its
 * recorded start time), and jobs still locked by a pool the driver killed long enough ago that
 * the sweeper should have freed them.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { processStartTime } from '../../src/agents/reap.js';
import type { Monitor } from './monitor.js';

/** A dead pool's jobs must be free this long after the kill (sweep every 10 s, plus restarts). */
const STALE_LOCK_GRACE_MS = 90_000;

export interface Sampled {
  readonly doubleRuns: string[];
  readonly staleLocks: string[];
  samples: number;
  /** Agent processes of this run seen in /proc over all samples (proves the probe sees them). */
  agentsSeen: number;
}

/** Sample every `everyMs` until `signal` aborts. */
export async function sample(
  monitor: Monitor,
  home: string,
  killedAt: ReadonlyMap<number, number>,
  signal: AbortSignal,
  everyMs = 500,
): Promise<Sampled> {
  const out: Sampled = { doubleRuns: [], staleLocks: [], samples: 0, agentsSeen: 0 };
  const seen = new Set<string>();
  const note = (list: string[], s: string) => {
    if (!seen.has(s)) list.push(s);
    seen.add(s);
  };
  while (!signal.aborted) {
    try {
      await sampleOnce(monitor, home, killedAt, out, note);
      out.samples++;
    } catch {
      // The database is down (injected): the next sample tries again.
    }
    await sleep(everyMs).catch(() => {});
  }
  return out;
}

/**
 * Live scripted-agent processes per ticket, from /proc (their LOOPWRIGHT_TICKET); only this run's
 * (their script is in the chaos home), not those of anything else on the machine.
 */
function agentProcesses(home: string): Map<string, number[]> {
  const byTicket = new Map<string, number[]>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const read = (f: string) => {
      try {
        return readFileSync(`/proc/${entry}/${f}`, 'utf8');
      } catch {
        return '';
      }
    };
    if (read('comm').trim() !== 'node' || !/scripted\/agent\.[jt]s/.test(read('cmdline'))) continue;
    const environ = read('environ');
    if (!environ.includes(`\0LOOPWRIGHT_SCRIPT=${home}/`)) continue;
    const ticket = /(?:^|\0)LOOPWRIGHT_TICKET=([^\0]+)/.exec(environ)?.[1];
    if (ticket) byTicket.set(ticket, [...(byTicket.get(ticket) ?? []), Number(entry)]);
  }
  return byTicket;
}

async function sampleOnce(
  monitor: Monitor,
  home: string,
  killedAt: ReadonlyMap<number, number>,
  out: Sampled,
  note: (list: string[], s: string) => void,
): Promise<void> {
  // What the runs table cannot show: one run id executed twice (a pid recorded over another).
  for (const [key, pids] of agentProcesses(home)) {
    out.agentsSeen += pids.length;
    if (pids.length > 1)
      note(out.doubleRuns, `${key}: agent processes ${pids.join(', ')} alive at once`);
  }
  const runs = await monitor.rows<{ key: string; pid: number; started: string; id: string }>(
    `select t.key, r.pid, r.process_started_at as started, r.id from loopwright.agent_runs r
     join loopwright.tickets t on t.id = r.ticket_id
     where r.status = 'running' and r.pid is not null`,
    [],
    2000,
  );
  const live = new Map<string, string[]>();
  for (const r of runs)
    if (processStartTime(r.pid) === r.started)
      live.set(r.key, [...(live.get(r.key) ?? []), r.id.slice(0, 8)]);
  for (const [key, ids] of live)
    if (ids.length > 1) note(out.doubleRuns, `${key}: ${ids.join(', ')} alive at once`);
  const locks = await monitor.rows<{ pid: number; task: string; key: string | null }>(
    `select p.pid, k.identifier as task, j.payload->>'ticketId' as key
     from graphile_worker._private_jobs j join graphile_worker._private_tasks k on k.id = j.task_id
     join loopwright.pools p on j.locked_by = any(p.worker_ids) where j.locked_by is not null`,
    [],
    2000,
  );
  for (const l of locks) {
    const at = killedAt.get(l.pid);
    if (at !== undefined && Date.now() - at > STALE_LOCK_GRACE_MS)
      note(out.staleLocks, `${l.task} of ticket ${l.key} held by killed pid ${l.pid}`);
  }
}
