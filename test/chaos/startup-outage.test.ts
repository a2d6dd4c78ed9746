/**
 * `loopwright run` started while its database keeps dropping connections (found by
 * `npm run chaos`: a run process restarted during a burst of Postgres restarts exited 1 with
 * "Connection terminated unexpectedly"). Start-up must ride that out like any later outage: the
 * process keeps trying, then works, and only a signal or a real configuration error ends it.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cliArgv, cliEnv } from '../../bench/chaos/fleet.js';
import { startOwnPostgres, type OwnPostgres } from '../../bench/chaos/own-postgres.js';

let pg: OwnPostgres;
let home: string;
let child: ChildProcess | undefined;

beforeAll(async () => {
  pg = await startOwnPostgres('lw-startup-');
  home = await mkdtemp(path.join(os.tmpdir(), 'lw-startup-home-'));
}, 120_000);

afterAll(async () => {
  if (child && child.exitCode === null) child.kill('SIGKILL');
  await pg?.destroy();
  await rm(home, { recursive: true, force: true });
});

describe('run starting during an outage', () => {
  it('keeps starting while every connection is terminated, then runs until idle', async () => {
    let stderr = '';
    child = spawn(process.execPath, [...cliArgv(process.cwd(), 'tsx'), 'run', '--until-idle'], {
      cwd: process.cwd(),
      env: { ...cliEnv(pg.url, home), LOOPWRIGHT_LOG_LEVEL: 'warn' },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    child.stderr!.on('data', (d: Buffer) => void (stderr += d.toString()));
    const exit = new Promise<number | null>((resolve) => child!.once('exit', resolve));
    // Every loopwright connection is cut as soon as it exists, for the whole start-up.
    let cut = 0;
    const until = Date.now() + 12_000;
    while (Date.now() < until && child.exitCode === null) {
      cut += await pg.terminateBackends();
      await sleep(20);
    }
    expect(cut, stderr).toBeGreaterThan(0);
    expect(child.exitCode, stderr).toBe(null);
    expect(await exit, stderr).toBe(0);
    expect(stderr).toMatch(/Database unavailable, retrying/);
  }, 120_000);
});
