/**
 * `npm run chaos` in a tiny mode (5 tickets, 3 cycles): the real driver (its own Postgres, real
 * repositories, two real `loopwright run` processes, fault cycles) must finish with every
 * invariant holding; then
 * violations planted by hand — a gap in a journal's seq, a second merge commit of a ticket, a stray
 * process in the chaos home — must each make the checker fail and name the offender.
 */
import { execFile, spawn } from 'node:child_process';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { type ChaosEnv, runChaos } from '../../bench/chaos/driver.js';
import type { InvariantResult } from '../../bench/chaos/invariants.js';
import { gitIdentityEnv } from '../helpers/fixtures.js';

const git = promisify(execFile);

const failing = (rows: readonly InvariantResult[]) => rows.filter((r) => !r.ok);

async function plantJournalGap(env: ChaosEnv): Promise<string> {
  const [last] = await env.monitor.rows<{ id: string; key: string }>(
    `select e.id::text, t.key from loopwright.ticket_events e
     join loopwright.tickets t on t.id = e.ticket_id order by e.id desc limit 1`,
  );
  // The journal is immutable by trigger; the superuser of the chaos server lifts it to plant this.
  await env.monitor.rows('alter table loopwright.ticket_events disable trigger user');
  await env.monitor.rows('update loopwright.ticket_events set seq = seq + 1 where id = $1', [
    last!.id,
  ]);
  await env.monitor.rows('alter table loopwright.ticket_events enable trigger user');
  return last!.key;
}

async function plantSecondMerge(env: ChaosEnv): Promise<string> {
  const live = env.scenario.tickets.find((t) => t.state === 'LIVE')!;
  const repo = env.scenario.repos.find((r) => r.name === live.repo)!.path;
  const { stdout } = await git(
    'git',
    [
      ...['-C', repo, 'commit-tree', 'main^{tree}', '-p', 'main', '-p', 'main~1'],
      ...['-m', `Merge ${live.key} again\n\nLoopwright-Ticket: ${live.key}\n`],
    ],
    { env: gitIdentityEnv() },
  );
  await git('git', ['-C', repo, 'update-ref', 'refs/heads/main', stdout.trim()]);
  return live.key;
}

describe('the chaos driver', () => {
  it('holds every invariant through fault cycles and fails on planted violations', async () => {
    let planted: InvariantResult[] = [];
    let journalKey = '';
    let mergeKey = '';
    // The driver's progress (cycles, and what did not settle) goes into a failure's message.
    const progress: string[] = [];
    const result = await runChaos(
      {
        cycles: 3,
        tickets: 5,
        repos: 2,
        orchestrators: 2,
        seed: 8,
        sandbox: 'none',
        agentSleepMs: 100,
        momentMs: 5000,
        settleSeconds: 120,
        gapMs: 200,
        progress: (line) => progress.push(line),
      },
      async (env) => {
        journalKey = await plantJournalGap(env);
        mergeKey = await plantSecondMerge(env);
        const stray = spawn('sleep', ['60'], { cwd: env.home, stdio: 'ignore' });
        try {
          planted = await env.recheck();
        } finally {
          stray.kill('SIGKILL');
        }
      },
    );
    const report = `${progress.join('\n')}\n${JSON.stringify(result, null, 2)}`;
    expect(failing(result.invariants), report).toEqual([]);
    expect(result.cycles.filter((c) => c.landed)).toHaveLength(3);
    // The /proc probe of the double-run check saw this run's agents (it can fail).
    const runs = result.invariants.find((r) => r.name === 'never two live runs per ticket');
    expect(runs?.detail).toMatch(/; [1-9]\d* agent processes sampled$/);
    expect(result.states).toEqual({ ESCALATED: 1, LIVE: 4 });

    const byName = new Map(failing(planted).map((r) => [r.name, r.detail]));
    expect([...byName.keys()].sort()).toEqual(
      [
        'each ticket merged exactly once',
        'journal seq contiguous per ticket',
        'no orphan process (agent, gate, sandbox)',
        'verify-journal --all clean',
      ].sort(),
    );
    expect(byName.get('journal seq contiguous per ticket')).toContain(journalKey);
    expect(byName.get('each ticket merged exactly once')).toContain(`${mergeKey}: 2 merge commit`);
    expect(byName.get('no orphan process (agent, gate, sandbox)')).toMatch(/sleep 60/);
  }, 240_000);
});
