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
import { CHECK_CMD, checkRepoSteps, makeCheckRepo } from '../test/helpers/check-repo.js';

const PHASES = [
  ['lead', 'plan_draft'],
  ['validator', 'plan_critique'],
  ['generator', 'red'],
  ['generator', 'build'],
  ['validator', 'validate'],
] as const;

/** Seconds per ticket for the bash loop and for the bare floor, over `tickets` tickets. */
export async function benchBaselines(
  tickets: number,
): Promise<{ bashSecondsPerTicket: number; floorSecondsPerTicket: number }> {
  const home = await mkdtemp(path.join(os.tmpdir(), 'lw-bench-bash-'));
  try {
    const bash = await timeBashLoop(home, tickets);
    const floor = await timeFloor(home, tickets);
    return { bashSecondsPerTicket: bash / tickets, floorSecondsPerTicket: floor / tickets };
  } finally {
    await rm(home, { recursive: true, force: true });
  }
}

async function prepare(home: string, name: string, tickets: number) {
  const repo = path.join(home, name);
  await makeCheckRepo(repo);
  const keys = Array.from({ length: tickets }, (_, i) => `${name}-${i + 1}`);
  const script = path.join(home, `${name}.json`);
  await writeFile(script, JSON.stringify({ steps: keys.flatMap((k) => checkRepoSteps(k)) }));
  return { repo, keys, script };
}

async function timeBashLoop(home: string, tickets: number): Promise<number> {
  const { repo, keys, script } = await prepare(home, 'bash', tickets);
  const manifest = path.join(home, 'manifest.json');
  await writeFile(manifest, JSON.stringify({ tickets: keys }));
  const loop = path.join(packageRoot(), 'bench', 'bash-loop.sh');
  const started = performance.now();
  const r = spawnSync(
    'bash',
    [loop, manifest, repo, script, CHECK_CMD, ...scriptedAgentCommand()],
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
    spawnSync('sh', ['-c', CHECK_CMD], { cwd: repo, stdio: 'ignore' });
  }
  return (performance.now() - started) / 1000;
}
