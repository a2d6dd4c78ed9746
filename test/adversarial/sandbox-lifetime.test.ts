/**
 * Attack: a sandboxed agent tries to outlive its run — a setsid, double-forked daemon that keeps
 * writing — through a timeout, and through the orchestrator itself being SIGKILLed. Nothing of
 * the sandbox may survive either.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';
import { runProcessGroup } from '../../src/agents/spawn-group.js';
import { processesWithEnv, sandboxDirs } from '../helpers/sandbox.js';

const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const SPAWN_GROUP = pathToFileURL(path.join(REPO_ROOT, 'src/agents/spawn-group.ts')).href;

/** A daemon that leaves the group and the session, forks twice and beats into `beat` forever. */
const DAEMON =
  `setsid sh -c 'sh -c "while :; do date +%s%N > beat.new; mv beat.new beat; ` +
  `sleep 0.05; done" &' </dev/null >/dev/null 2>&1; sleep 300`;

async function waitFor(check: () => Promise<boolean>, ms: number): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (await check()) return true;
    await new Promise((r) => setTimeout(r, 50));
  }
  return false;
}

/** True when `file` has not changed for `ms`. */
async function stopsChanging(file: string, ms = 600): Promise<boolean> {
  const first = await fs.readFile(file, 'utf8').catch(() => '');
  await new Promise((r) => setTimeout(r, ms));
  return first === (await fs.readFile(file, 'utf8').catch(() => ''));
}

describe('a sandboxed daemon trying to outlive its run', () => {
  it('dies with the sandbox when the run times out', async () => {
    const { ws } = await sandboxDirs();
    const marker = `LW_SBX_LIFETIME=timeout-${process.pid}-${Date.now()}`;
    const [name, value] = marker.split('=') as [string, string];
    const result = await runProcessGroup({
      argv: ['/bin/sh', '-c', DAEMON],
      cwd: ws,
      env: { PATH: '/usr/bin:/bin', [name]: value },
      // Long enough for the daemon to have written its first beat on a loaded machine.
      timeoutMs: 4_000,
      maxOutputBytes: 1 << 16,
      killGraceMs: 300,
      sandbox: { mode: 'bwrap', writable: [ws] },
    });
    expect(result.ending).toBe('timeout');
    await expect(fs.readFile(path.join(ws, 'beat'), 'utf8')).resolves.toMatch(/\d+/); // it ran
    expect(processesWithEnv(marker)).toEqual([]);
    expect(await stopsChanging(path.join(ws, 'beat'))).toBe(true);
  });

  it('dies with the sandbox when the orchestrator is SIGKILLed', async () => {
    const { ws } = await sandboxDirs();
    const marker = `LW_SBX_LIFETIME=sigkill-${process.pid}-${Date.now()}`;
    const [name, value] = marker.split('=') as [string, string];
    const code = `
      const { runProcessGroup } = await import(${JSON.stringify(SPAWN_GROUP)});
      await runProcessGroup({ argv: ['/bin/sh', '-c', ${JSON.stringify(DAEMON)}],
        cwd: ${JSON.stringify(ws)},
        env: { PATH: '/usr/bin:/bin', ${JSON.stringify(name)}: ${JSON.stringify(value)} },
        timeoutMs: 120000, maxOutputBytes: 65536, killGraceMs: 300,
        sandbox: { mode: 'bwrap', writable: [${JSON.stringify(ws)}] } });`;
    const orchestrator = spawn(
      process.execPath,
      ['--import', 'tsx', '--input-type=module', '-e', code],
      { cwd: REPO_ROOT, stdio: 'ignore' },
    );
    try {
      const beating = await waitFor(
        async () => (await fs.readFile(path.join(ws, 'beat'), 'utf8').catch(() => '')) !== '',
        30_000,
      );
      expect(beating).toBe(true);
      expect(processesWithEnv(marker).length).toBeGreaterThan(0);
    } finally {
      orchestrator.kill('SIGKILL');
    }
    const gone = await waitFor(async () => processesWithEnv(marker).length === 0, 5_000);
    expect(gone).toBe(true);
    expect(await stopsChanging(path.join(ws, 'beat'))).toBe(true);
  }, 60_000);
});
