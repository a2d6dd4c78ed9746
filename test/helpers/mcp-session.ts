/**
 * Shared by the MCP tests that run real clients (`claude -p`, `codex exec`) and the installed bin:
 * a subprocess runner with stdin closed, and the demo repository registered with scripted agents.
 */
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import type { Kdb } from '../../src/db/connection.js';
import { insertRepository } from '../../src/db/repositories.js';
import { createDemoRepo, demoScript } from '../../src/demo/playbook.js';
import { scriptedSettings } from './check-repo.js';

export interface Exit {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/**
 * Run a command with stdin closed (as a pasted command in a script would), capturing its output;
 * killed with SIGKILL after `timeoutMs`.
 */
export function runClosedStdin(
  command: string,
  args: readonly string[],
  options: { env: NodeJS.ProcessEnv; cwd?: string; timeoutMs?: number },
): Promise<Exit> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, [...args], {
      env: options.env,
      cwd: options.cwd,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => void (stdout += c.toString('utf8')));
    child.stderr.on('data', (c: Buffer) => void (stderr += c.toString('utf8')));
    const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 300_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

/**
 * The demo repository (created under `root/demo`) registered as `demo`, every role a scripted
 * agent playing the demo script (written to `root/script.json`).
 */
export async function registerDemoRepo(
  db: Kdb,
  root: string,
  mode: 'copilot' | 'dark',
): Promise<void> {
  const repoPath = await createDemoRepo(path.join(root, 'demo'));
  const script = path.join(root, 'script.json');
  writeFileSync(script, JSON.stringify(demoScript()));
  await insertRepository(db, {
    name: 'demo',
    path: repoPath,
    test_cmd: 'node --test',
    live_cmd: 'node scripts/live-check.mjs',
    mode,
    settings: scriptedSettings(script),
  });
}
