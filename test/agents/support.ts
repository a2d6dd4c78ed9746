/**
 * Shared helpers for the agent tests: temp dirs that clean themselves up, invocation defaults,
 * and checks that a process group is really gone.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach } from 'vitest';
import type { AgentInvocation } from '../../src/agents/provider.js';
import { PROCESS_TAG_ENV } from '../../src/agents/process-identity.js';
import type { Script } from '../../src/agents/scripted/script.js';

const cleanups: (() => void | Promise<void>)[] = [];

/** Register cleanup for after the current test (LIFO). */
export function onCleanup(fn: () => void | Promise<void>): void {
  cleanups.push(fn);
}

afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()!();
});

export interface Sandbox {
  readonly root: string;
  /** The "worktree" the agent runs in. */
  readonly cwd: string;
  readonly transcriptPath: string;
  writeScript(script: Script): string;
  transcript(): string;
}

/** A temp directory with a worktree inside; removed after the test. */
export function makeSandbox(): Sandbox {
  const root = mkdtempSync(path.join(os.tmpdir(), 'lw-agents-'));
  onCleanup(() => rmSync(root, { recursive: true, force: true }));
  const cwd = path.join(root, 'worktree');
  mkdirSync(cwd);
  const transcriptPath = path.join(root, 'runs', 'run-1', 'transcript.jsonl');
  return {
    root,
    cwd,
    transcriptPath,
    writeScript(script) {
      const file = path.join(root, 'script.json');
      writeFileSync(file, JSON.stringify(script));
      return file;
    },
    transcript: () => (existsSync(transcriptPath) ? readFileSync(transcriptPath, 'utf8') : ''),
  };
}

/** A complete invocation for `sandbox`, overridable field by field. */
export function invocation(
  sandbox: Sandbox,
  overrides: Partial<AgentInvocation> = {},
): AgentInvocation {
  return {
    runId: 'run-1',
    role: 'generator',
    phase: 'BUILD',
    cwd: sandbox.cwd,
    prompt: 'Read .loopwright/task.md and follow it. Write .loopwright/report.json.',
    systemPrompt: 'You are the Generator.',
    timeoutMs: 30_000,
    maxOutputBytes: 5 * 1024 * 1024,
    transcriptPath: sandbox.transcriptPath,
    env: {},
    ...overrides,
  };
}

/** Parsed JSON lines of a transcript (non-JSON lines skipped). */
export function transcriptEvents(text: string): Record<string, unknown>[] {
  return text.split('\n').flatMap((line) => {
    try {
      const value: unknown = JSON.parse(line);
      return value && typeof value === 'object' ? [value as Record<string, unknown>] : [];
    } catch {
      return [];
    }
  });
}

/**
 * `kill(target, 0)` throws ESRCH — nothing by that pid (or in that group, for a negative target).
 */
export function isGone(target: number): boolean {
  try {
    process.kill(target, 0);
    return false;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'ESRCH';
  }
}

/**
 * Poll until `check` holds; false if it never does within `ms`. Killed grandchildren are
 * re-parented to init and stay zombies until it reaps them — on some machines only every ~2 s —
 * and `kill(-pgid, 0)` succeeds until then.
 */
export async function eventually(check: () => boolean, ms = 5_000): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (check()) return true;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  return check();
}

/** Kill a group if a failed test left it behind. */
export function killGroupQuietly(pgid: number | undefined): void {
  if (!pgid) return;
  try {
    process.kill(-pgid, 'SIGKILL');
  } catch {
    // already gone
  }
}

/**
 * Start a detached `sh` group (with a `sleep` grandchild) from a short-lived Node process, the way
 * a crashed pool leaves its agents behind, carrying process tag `tag` when given; returns the
 * group's leader pid (killed after the test).
 */
export function orphanGroup(tag?: string): number {
  const env =
    tag === undefined
      ? ''
      : `, env: { ...process.env, ${PROCESS_TAG_ENV}: ${JSON.stringify(tag)} }`;
  const starter = `
    const { spawn } = require('node:child_process');
    const child = spawn('sh', ['-c', 'sleep 60 & exec sleep 60'],
      { detached: true, stdio: 'ignore'${env} });
    child.unref();
    process.stdout.write(String(child.pid));`;
  const pid = Number(execFileSync(process.execPath, ['-e', starter], { encoding: 'utf8' }));
  onCleanup(() => killGroupQuietly(pid));
  return pid;
}
