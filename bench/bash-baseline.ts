/**
 * Baselines for the lifecycle benchmark: the minimal bash loop (bench/bash-loop.sh) running the
 * same scripted agents and gate commands from a JSON manifest, and the bare subprocess floor (only
 * the agent and test processes a ticket needs, spawned back to back, no git and no checks).
 *
 * Both run with the environment loopwright gives an agent (the allow-list of agent-env.ts), so
 * that the agent processes are the same on both sides: a variable such as NODE_EXTRA_CA_CERTS
 * (set on some machines; Node then loads the CA file at every start, ~50 ms here) would otherwise
 * slow only the baseline's agents. The bash loop is also timed once with the caller's whole
 * environment, and reported beside, to show what that difference is worth.
 */
import { spawnSync } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { buildAgentEnv } from '../src/agents/agent-env.js';
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
  /** The bash loop with the caller's whole environment (only when asked for). */
  readonly bashInheritedSecondsPerTicket?: number;
}

/**
 * Two timings of the baselines, one just before loopwright's 1-worker run and one just after,
 * as one: the mean of each figure (a shared machine drifts over minutes; timed on both sides,
 * the drift cancels), the inherited-environment figure from whichever has it.
 */
export function bothSides(
  before: Baselines,
  after: Baselines,
): Baselines & { readonly bashRuns: readonly [number, number] } {
  const mean = (a: number, b: number) => (a + b) / 2;
  const inherited = after.bashInheritedSecondsPerTicket ?? before.bashInheritedSecondsPerTicket;
  return {
    bashSecondsPerTicket: mean(before.bashSecondsPerTicket, after.bashSecondsPerTicket),
    bashGitSpawnsPerTicket: after.bashGitSpawnsPerTicket,
    floorSecondsPerTicket: mean(before.floorSecondsPerTicket, after.floorSecondsPerTicket),
    ...(inherited === undefined ? {} : { bashInheritedSecondsPerTicket: inherited }),
    bashRuns: [before.bashSecondsPerTicket, after.bashSecondsPerTicket],
  };
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
  options: { readonly alsoInherited?: boolean } = {},
): Promise<Baselines> {
  const home = await mkdtemp(path.join(os.tmpdir(), 'lw-bench-bash-'));
  try {
    const { repo, keys, script } = await prepare(home, 'bash', tickets, padFiles);
    const before = (await counter.lines()).length;
    const bash = await timeBashLoop(home, { repo, keys, script }, agentLikeEnv());
    const bashSpawns = (await counter.lines()).length - before;
    const floor = await timeFloor(home, tickets);
    const inherited = options.alsoInherited
      ? await timeBashLoop(home, await prepare(home, 'inherited', tickets, padFiles), {
          ...process.env,
        })
      : undefined;
    return {
      bashSecondsPerTicket: bash / tickets,
      bashGitSpawnsPerTicket: Math.round((bashSpawns / tickets) * 100) / 100,
      floorSecondsPerTicket: floor / tickets,
      ...(inherited === undefined ? {} : { bashInheritedSecondsPerTicket: inherited / tickets }),
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

/**
 * The environment a scripted agent of loopwright's gets (before the sandbox sets HOME and TMPDIR):
 * PATH (with the git counter first), HOME, locale and the like, nothing else.
 */
function agentLikeEnv(): Record<string, string> {
  return buildAgentEnv({ vendor: 'none' });
}

/**
 * The names of variables set here that change how fast Node starts, which loopwright's agents do
 * not get (for the report's note).
 */
export function nodeStartVariables(): string[] {
  const passed = agentLikeEnv();
  return ['NODE_OPTIONS', 'NODE_EXTRA_CA_CERTS', 'NODE_PATH', 'NODE_COMPILE_CACHE'].filter(
    (name) => process.env[name] !== undefined && passed[name] === undefined,
  );
}

async function timeBashLoop(
  home: string,
  { repo, keys, script }: { repo: string; keys: readonly string[]; script: string },
  env: NodeJS.ProcessEnv,
): Promise<number> {
  const manifest = path.join(home, `${path.basename(repo)}-manifest.json`);
  await writeFile(manifest, JSON.stringify({ tickets: keys }));
  const loop = path.join(packageRoot(), 'bench', 'bash-loop.sh');
  const started = performance.now();
  const r = spawnSync(
    'bash',
    [loop, manifest, repo, script, CHECK_CMD, CHECK_CMD, ...scriptedAgentCommand()],
    { stdio: ['ignore', 'ignore', 'pipe'], env },
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
        ...agentLikeEnv(),
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
