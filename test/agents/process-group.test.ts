/**
 * Subprocess discipline with real processes: timeouts, aborts and the output cap kill the whole
 * process group (grandchildren included), and the run records where the group was.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { createProvider } from '../../src/agents/providers.js';
import { isGroupAlive, isProcessAlive } from '../../src/agents/process-identity.js';
import { processStartTime } from '../../src/agents/reap.js';
import type { SpawnedGroup } from '../../src/agents/provider.js';
import {
  eventually,
  invocation,
  isGone,
  killGroupQuietly,
  makeSandbox,
  onCleanup,
  transcriptEvents,
} from './support.js';

const GRACE_MS = 500;
const scripted = createProvider('scripted', { killGraceMs: GRACE_MS });

/** A scripted run that hangs (with a helper grandchild) until something kills it. */
function hangingRun(overrides: Parameters<typeof invocation>[1] = {}) {
  const sandbox = makeSandbox();
  const script = sandbox.writeScript({ steps: [{ match: { ticket: 'LW-HANG' }, hang: true }] });
  let spawned: SpawnedGroup | undefined;
  onCleanup(() => killGroupQuietly(spawned?.pgid));
  const inv = invocation(sandbox, {
    env: { LOOPWRIGHT_SCRIPT: script, LOOPWRIGHT_TICKET: 'LW-HANG' },
    onSpawn: (group) => {
      spawned = group;
    },
    ...overrides,
  });
  const helperPid = () => {
    const event = transcriptEvents(sandbox.transcript()).find((e) => e.subtype === 'hang');
    return event?.helper_pid as number | undefined;
  };
  return { sandbox, inv, spawned: () => spawned, helperPid };
}

describe('process groups', () => {
  it('kills the whole group, grandchild included, when the wall clock runs out', async () => {
    // Long enough for the agent (run through tsx here) to start its helper on a loaded machine.
    const wallClockMs = 6_000;
    const run = hangingRun({ timeoutMs: wallClockMs });
    const started = Date.now();
    const outcome = await scripted.run(run.inv);
    const elapsed = Date.now() - started;

    expect(outcome.status).toBe('timeout');
    expect(outcome.exitCode).toBeNull();
    expect(elapsed).toBeGreaterThanOrEqual(wallClockMs);
    expect(elapsed).toBeLessThan(wallClockMs + GRACE_MS + 1_500);
    const group = run.spawned()!;
    const helper = run.helperPid();
    expect(helper).toBeGreaterThan(0);
    // Nothing of the group runs any more the moment run() returns (zombies awaiting init aside)...
    expect(isGroupAlive(group.pgid)).toBe(false);
    expect(isProcessAlive(helper!)).toBe(false);
    // ...and once reaped, the kernel knows neither the group nor the grandchild.
    expect(await eventually(() => isGone(-group.pgid))).toBe(true);
    expect(await eventually(() => isGone(helper!))).toBe(true);
  });

  it('reports pid, pgid and the /proc start time to onSpawn before the run ends', async () => {
    const run = hangingRun({ timeoutMs: 60_000 });
    const controller = new AbortController();
    let startTimeWhileRunning: string | null = null;
    const outcome = await scripted.run({
      ...run.inv,
      signal: controller.signal,
      onSpawn: (group) => {
        startTimeWhileRunning = processStartTime(group.pid);
        expect(group.pgid).toBe(group.pid);
        expect(group.startTime).toMatch(/^\d+$/);
        expect(group.startTime).toBe(startTimeWhileRunning);
        controller.abort();
      },
    });
    expect(startTimeWhileRunning).not.toBeNull();
    expect(outcome.process?.startTime).toBe(startTimeWhileRunning);
    expect(outcome.status).toBe('killed');
    expect(await eventually(() => isGone(-outcome.process!.pgid))).toBe(true);
  });

  it('kills the group and reports killed when the run is aborted', async () => {
    const run = hangingRun({ timeoutMs: 60_000 });
    const controller = new AbortController();
    const pending = scripted.run({ ...run.inv, signal: controller.signal });
    expect(await eventually(() => run.helperPid() !== undefined, 10_000)).toBe(true);
    const started = Date.now();
    controller.abort();
    const outcome = await pending;

    expect(outcome.status).toBe('killed');
    expect(Date.now() - started).toBeLessThan(GRACE_MS + 1_500);
    expect(isGroupAlive(run.spawned()!.pgid)).toBe(false);
    expect(isProcessAlive(run.helperPid()!)).toBe(false);
    expect(await eventually(() => isGone(-run.spawned()!.pgid))).toBe(true);
    expect(await eventually(() => isGone(run.helperPid()!))).toBe(true);
  });

  it('does not start anything when the signal is already aborted', async () => {
    const run = hangingRun();
    const outcome = await scripted.run({ ...run.inv, signal: AbortSignal.abort() });
    expect(outcome.status).toBe('killed');
    expect(run.spawned()).toBeUndefined();
  });

  it('stops capturing at maxOutputBytes, kills the group, marks output truncated', async () => {
    const sandbox = makeSandbox();
    const script = sandbox.writeScript({ steps: [{ floodBytes: 1_000_000, hang: true }] });
    const outcome = await scripted.run(
      invocation(sandbox, { maxOutputBytes: 64 * 1024, env: { LOOPWRIGHT_SCRIPT: script } }),
    );
    onCleanup(() => killGroupQuietly(outcome.process?.pgid));

    expect(outcome.outputTruncated).toBe(true);
    expect(outcome.status).toBe('error');
    expect(outcome.errorMessage).toMatch(/maxOutputBytes/);
    const transcript = sandbox.transcript();
    expect(Buffer.byteLength(transcript)).toBeLessThan(64 * 1024 + 200);
    expect(transcript).toContain('output cap of 65536 bytes reached');
    expect(await eventually(() => isGone(-outcome.process!.pgid))).toBe(true);
  });

  it('kills what a finished agent left running in its group', async () => {
    const sandbox = makeSandbox();
    const leftover =
      `require('node:child_process').spawn(process.execPath, ['-e', ` +
      `'setInterval(() => {}, 1e9)'], { stdio: 'ignore' }).unref();`;
    const command = createProvider('command', {
      command: [process.execPath, '-e', leftover],
      killGraceMs: GRACE_MS,
    });
    const outcome = await command.run(invocation(sandbox));
    onCleanup(() => killGroupQuietly(outcome.process?.pgid));

    expect(outcome.status).toBe('ok');
    expect(isGroupAlive(outcome.process!.pgid)).toBe(false);
    expect(await eventually(() => isGone(-outcome.process!.pgid))).toBe(true);
  });

  it('also kills descendants that left the group for a session of their own', async () => {
    const sandbox = makeSandbox();
    // The agent starts an escapee in a new session (as Claude Code's Bash tool does), writes its
    // pid, hangs.
    const agent = `
      const { spawn } = require('node:child_process');
      const escapee = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1e9)'],
        { detached: true, stdio: 'ignore' });
      require('node:fs').writeFileSync('escapee.pid', String(escapee.pid));
      setInterval(() => {}, 1e9);`;
    const command = createProvider('command', {
      command: [process.execPath, '-e', agent],
      killGraceMs: GRACE_MS,
    });
    const outcome = await command.run(invocation(sandbox, { timeoutMs: 4_000 }));
    const escapee = Number(readFileSync(path.join(sandbox.cwd, 'escapee.pid'), 'utf8'));
    onCleanup(() => killGroupQuietly(escapee));

    expect(outcome.status).toBe('timeout');
    expect(escapee).toBeGreaterThan(0);
    expect(isProcessAlive(escapee)).toBe(false);
    expect(await eventually(() => isGone(escapee))).toBe(true);
  });

  it('reports a program that cannot be started as unavailable, without throwing', async () => {
    const sandbox = makeSandbox();
    const command = createProvider('command', { command: ['/nonexistent/agent-binary'] });
    const outcome = await command.run(invocation(sandbox));
    expect(outcome.status).toBe('unavailable');
    expect(outcome.errorMessage).toMatch(/cannot start \/nonexistent\/agent-binary/);
    expect(outcome.process).toBeUndefined();
  });

  it('kills the group and fails the run when onSpawn cannot record it', async () => {
    const run = hangingRun({ timeoutMs: 60_000 });
    const outcome = await scripted.run({
      ...run.inv,
      onSpawn: () => {
        throw new Error('database is down');
      },
    });
    expect(outcome.status).toBe('error');
    expect(outcome.errorMessage).toBe('onSpawn failed: database is down');
    expect(await eventually(() => isGone(-outcome.process!.pgid))).toBe(true);
  });
});
