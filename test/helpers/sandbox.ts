/**
 * Sandboxed commands for tests: a workspace handed to the sandbox user, a one-call runner through
 * the real gate runner (spawn-group + bwrap), and a scan for processes that outlived their run.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach } from 'vitest';
import { grantToSandbox, type SandboxSpec } from '../../src/agents/sandbox/index.js';
import { runCommandGate, type CommandGateResult } from '../../src/workspace/command-gate.js';

const created: string[] = [];

afterEach(async () => {
  await Promise.all(created.splice(0).map((dir) => rm(dir, { recursive: true, force: true })));
});

/**
 * `<tmp>/ws` (granted to the sandbox user) and `<tmp>/outside` (the orchestrator's), removed after
 * the test.
 */
export async function sandboxDirs(): Promise<{ tmp: string; ws: string; outside: string }> {
  const tmp = await mkdtemp(path.join(os.tmpdir(), 'lw-sbx-test-'));
  created.push(tmp);
  const ws = path.join(tmp, 'ws');
  const outside = path.join(tmp, 'outside');
  await mkdir(ws);
  await mkdir(outside);
  await grantToSandbox(ws);
  return { tmp, ws, outside };
}

/**
 * Run `command` with /bin/sh in `cwd` inside the sandbox (writable: `cwd` unless told otherwise).
 */
export function inSandbox(
  command: string,
  cwd: string,
  options: {
    spec?: Partial<SandboxSpec>;
    env?: Record<string, string>;
    timeoutMs?: number;
    killGraceMs?: number;
  } = {},
): Promise<CommandGateResult> {
  return runCommandGate(command, cwd, {
    timeoutMs: options.timeoutMs ?? 20_000,
    killGraceMs: options.killGraceMs ?? 500,
    env: options.env ?? { PATH: '/usr/local/bin:/usr/bin:/bin' },
    sandbox: { mode: 'bwrap', writable: [cwd], ...options.spec },
  });
}

/** Live (non-zombie) processes whose initial environment holds `entry` ("NAME=value"). */
export function processesWithEnv(entry: string): number[] {
  const pids: number[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const env = readFileSync(`/proc/${name}/environ`, 'latin1').split('\0');
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      const state = stat.slice(stat.lastIndexOf(')') + 2)[0];
      if (env.includes(entry) && state !== 'Z') pids.push(Number(name));
    } catch {
      // gone meanwhile
    }
  }
  return pids;
}
