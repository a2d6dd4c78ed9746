import { existsSync, readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { CommandStartError, runCommandGate } from '../../src/workspace/command-gate.js';
import { tempDir } from './helpers.js';

/** Alive = exists and is not a zombie (PID 1 in a container may never reap orphans). */
function isAlive(pid: number): boolean {
  if (existsSync('/proc/self/stat')) {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      const state = stat.slice(stat.lastIndexOf(')') + 2).charAt(0);
      return state !== 'Z' && state !== 'X';
    } catch {
      return false;
    }
  }
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function pidFrom(dir: string): Promise<number> {
  return Number((await readFile(path.join(dir, 'gc.pid'), 'utf8')).trim());
}

const leftovers: number[] = [];
afterEach(() => {
  // Never leave a stray sleep behind even if an assertion failed.
  for (const pid of leftovers.splice(0)) if (isAlive(pid)) process.kill(pid, 'SIGKILL');
});

describe('runCommandGate', () => {
  it('passes on exit 0 and fails with the exit code and output otherwise', async () => {
    const dir = await tempDir();
    const ok = await runCommandGate('echo hello; echo oops >&2', dir, { timeoutMs: 5_000 });
    expect(ok).toMatchObject({
      passed: true,
      exitCode: 0,
      timedOut: false,
      outputTruncated: false,
    });
    expect(ok.output).toBe('hello\noops\n');
    expect(ok.durationMs).toBeGreaterThanOrEqual(0);

    const bad = await runCommandGate('echo failing; exit 3', dir, { timeoutMs: 5_000 });
    expect(bad).toMatchObject({ passed: false, exitCode: 3, timedOut: false, output: 'failing\n' });
  });

  it('runs in cwd with only the allow-listed environment unless told otherwise', async () => {
    const dir = await tempDir();
    process.env.LW_TEST_SECRET = 'hunter2';
    try {
      const scrubbed = await runCommandGate(
        'pwd; echo "secret=${LW_TEST_SECRET:-unset}"; command -v node >/dev/null ' +
          '&& echo node-found',
        dir,
        {
          timeoutMs: 5_000,
        },
      );
      expect(scrubbed.output).toBe(`${dir}\nsecret=unset\nnode-found\n`);
      const explicit = await runCommandGate('echo "$ONLY"', dir, {
        timeoutMs: 5_000,
        env: { ONLY: 'this' },
      });
      expect(explicit.output).toBe('this\n');
    } finally {
      delete process.env.LW_TEST_SECRET;
    }
  });

  it('kills the whole process group on timeout, grandchildren included', async () => {
    const dir = await tempDir();
    const started = Date.now();
    const result = await runCommandGate(
      "sh -c 'sleep 60 & echo $! > gc.pid; wait'; echo never",
      dir,
      { timeoutMs: 400, killGraceMs: 300 },
    );
    const grandchild = await pidFrom(dir);
    leftovers.push(grandchild);
    expect(result).toMatchObject({ passed: false, timedOut: true });
    expect(result.output).not.toContain('never');
    expect(Date.now() - started).toBeLessThan(5_000);
    expect(isAlive(grandchild)).toBe(false);
  });

  it('escalates to SIGKILL when the command ignores SIGTERM', async () => {
    const dir = await tempDir();
    const result = await runCommandGate("trap '' TERM; sleep 60 & echo $! > gc.pid; wait", dir, {
      timeoutMs: 300,
      killGraceMs: 300,
    });
    const child = await pidFrom(dir);
    leftovers.push(child);
    expect(result).toMatchObject({
      passed: false,
      timedOut: true,
      exitCode: null,
      signal: 'SIGKILL',
    });
    expect(isAlive(child)).toBe(false);
  });

  it('reaps background processes a passing command left, without waiting for them', async () => {
    const dir = await tempDir();
    const started = Date.now();
    const result = await runCommandGate('sleep 60 & echo $! > gc.pid; echo done', dir, {
      timeoutMs: 5_000,
    });
    const background = await pidFrom(dir);
    leftovers.push(background);
    expect(result).toMatchObject({ passed: true, exitCode: 0, output: 'done\n' });
    expect(Date.now() - started).toBeLessThan(3_000);
    expect(isAlive(background)).toBe(false);
  });

  it('keeps only the tail of a large output', async () => {
    const dir = await tempDir();
    const result = await runCommandGate(
      'i=0; while [ $i -lt 2000 ]; do echo "line $i of output"; i=$((i+1)); done; echo THE-END',
      dir,
      {
        timeoutMs: 10_000,
        maxOutputBytes: 1_000,
      },
    );
    expect(result.passed).toBe(true);
    expect(result.outputTruncated).toBe(true);
    expect(Buffer.byteLength(result.output)).toBeLessThanOrEqual(1_000);
    expect(result.output.endsWith('line 1999 of output\nTHE-END\n')).toBe(true);
  });

  it('throws instead of reporting a failed run when the command cannot start', async () => {
    const dir = await tempDir();
    await expect(
      runCommandGate('true', path.join(dir, 'missing'), { timeoutMs: 1_000 }),
    ).rejects.toBeInstanceOf(CommandStartError);
  });
});
