/**
 * Baselines for the lifecycle benchmark: the minimal bash loop (bench/bash-loop.sh) running the
 * same scripted agents and gate commands from a JSON manifest, and the bare subprocess floor (only
 * the agent and test processes a ticket needs, spawned back to back, no git and no checks).
 */
import { spawnSync } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { scriptedAgentCommand } from '../src/agents/scripted-provider.js';
import { packageRoot } from '../src/config/package-root.js';
import type { GitCounter } from './git-counter.js';
import { CHECK_CMD, checkRepoSteps, makeCheckRepo } from '../test/helpers/check-repo.js';

const PHASES = [
  ['lead', 'plan_draft'],
  ['validator', 'plan_critique'],
  ['generator', 'red'],
  ['generator', 'build'],
  ['validator', 'validate'],
] as const;

export interface Baselines {
  readonly bashSecondsPerTicket: number;
  /** The bash loop's git processes per ticket, counted by the same wrapper as loopwright's. */
  readonly bashGitSpawnsPerTicket: number;
  readonly floorSecondsPerTicket: number;
}

/**
 * Seconds per ticket for the bash loop and for the bare floor, over `tickets` tickets; the bash
 * loop runs under `counter` (as loopwright's timed run does), which counts its git processes, on
 * a check repository with `padFiles` extra files.
 */
export async function benchBaselines(
  tickets: number,
  counter: GitCounter,
  padFiles = 0,
): Promise<Baselines> {
  const home = await mkdtemp(path.join(os.tmpdir(), 'lw-bench-bash-'));
  try {
    const { repo, keys, script } = await prepare(home, 'bash', tickets, padFiles);
    const before = (await counter.lines()).length;
    const bash = await timeBashLoop(home, { repo, keys, script });
    const bashSpawns = (await counter.lines()).length - before;
    const floor = await timeFloor(home, tickets);
    return {
      bashSecondsPerTicket: bash / tickets,
      bashGitSpawnsPerTicket: Math.round((bashSpawns / tickets) * 100) / 100,
      floorSecondsPerTicket: floor / tickets,
    };
  } finally {
    await rm(home, { recursive: true, force: true });
  }
}

async function prepare(home: string, name: string, tickets: number, padFiles = 0) {
  const repo = path.join(home, name);
  await makeCheckRepo(repo, padFiles);
  const keys = Array.from({ length: tickets }, (_, i) => `${name}-${i + 1}`);
  const script = path.join(home, `${name}.json`);
  await writeFile(script, JSON.stringify({ steps: keys.flatMap((k) => checkRepoSteps(k)) }));
  return { repo, keys, script };
}

async function timeBashLoop(
  home: string,
  { repo, keys, script }: { repo: string; keys: readonly string[]; script: string },
): Promise<number> {
  const manifest = path.join(home, 'manifest.json');
  await writeFile(manifest, JSON.stringify({ tickets: keys }));
  const loop = path.join(packageRoot(), 'bench', 'bash-loop.sh');
  const started = performance.now();
  const r = spawnSync(
    'bash',
    [loop, manifest, repo, script, CHECK_CMD, CHECK_CMD, ...scriptedAgentCommand()],
    {
      stdio: ['ignore', 'ignore', 'pipe'],
    },
  );
  if (r.status !== 0) throw new Error(`bash loop failed: ${r.stderr}`);
  return (performance.now() - started) / 1000;
}

async function timeFloor(home: string, tickets: number): Promise<number> {
  const { repo, keys, script } = await prepare(home, 'floor', tickets);
  const [node, ...agentArgs] = scriptedAgentCommand();
  const started = performance.now();
  for (const key of keys) {
    for (const [role, phase] of PHASES) {
      const env = {
        ...process.env,
        LOOPWRIGHT_TICKET: key,
        LOOPWRIGHT_ROLE: role,
        LOOPWRIGHT_PHASE: phase,
        LOOPWRIGHT_SCRIPT: script,
      };
      spawnSync(node!, [...agentArgs, '-p', 'x'], { cwd: repo, env, stdio: 'ignore' });
      if (phase === 'red' || phase === 'build')
        spawnSync('sh', ['-c', CHECK_CMD], { cwd: repo, stdio: 'ignore' });
    }
    // The merge's test run and the live check (both CHECK_CMD here).
    spawnSync('sh', ['-c', CHECK_CMD], { cwd: repo, stdio: 'ignore' });
    spawnSync('sh', ['-c', CHECK_CMD], { cwd: repo, stdio: 'ignore' });
  }
  return (performance.now() - started) / 1000;
}
