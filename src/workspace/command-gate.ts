/**
 * Run a repository's command (tests, lint, live check) as a gate: `/bin/sh -c` in its own process
 * group, with a time limit that kills the whole group, and only the tail of its output kept.
 * RED expects `passed: false`, GREEN and repo checks `passed: true`, the live check after merge too.
 */
import { spawn } from 'node:child_process';
import { LoopwrightError } from '../errors.js';
import { logger } from '../log/logger.js';

/** Environment variables a gate command inherits by default; everything else (keys, tokens) stays out. */
export const GATE_ENV_ALLOWLIST = [
  'PATH',
  'HOME',
  'USER',
  'LOGNAME',
  'SHELL',
  'LANG',
  'LC_ALL',
  'TZ',
  'TMPDIR',
  'TERM',
] as const;

const DEFAULT_MAX_OUTPUT_BYTES = 64 * 1024;
const DEFAULT_KILL_GRACE_MS = 2_000;

/** Limits for {@link runCommandGate}. */
export interface CommandGateOptions {
  readonly timeoutMs: number;
  /** The command's whole environment. Default: {@link GATE_ENV_ALLOWLIST} taken from this process. */
  readonly env?: Readonly<Record<string, string>>;
  /** Keep at most this many bytes from the end of stdout+stderr (default 64 KiB). */
  readonly maxOutputBytes?: number;
  /** After a timeout: time between SIGTERM and SIGKILL to the group (default 2 s). */
  readonly killGraceMs?: number;
}

/** What the command did. `passed` is `exitCode === 0` and not timed out. */
export interface CommandGateResult {
  readonly passed: boolean;
  /** Null when the shell died from a signal. */
  readonly exitCode: number | null;
  readonly signal: string | null;
  readonly durationMs: number;
  /** The tail of stdout and stderr interleaved as they arrived. */
  readonly output: string;
  readonly outputTruncated: boolean;
  readonly timedOut: boolean;
}

/** The command could not be started at all (missing cwd, no /bin/sh): not a verdict on the code. */
export class CommandStartError extends LoopwrightError {
  constructor(command: string, cwd: string, options: { cause: unknown }) {
    super(
      'COMMAND_START',
      `could not start gate command ${JSON.stringify(command)} in ${cwd}`,
      options,
    );
  }
}

/**
 * Run `command` with `/bin/sh -c` in `cwd`. Whatever is still alive in its process group when the
 * shell exits (background jobs, a timed-out test runner's children) is killed, so a gate never
 * leaves processes behind. Processes that leave the group on purpose (`setsid`) are out of reach.
 *
 * @throws CommandStartError when the shell cannot be spawned (a failed start must never read as RED).
 * @example
 * ```ts
 * const red = await runCommandGate('node --test', wt.path, { timeoutMs: 120_000 });
 * if (red.passed) fail('RED_NOT_RED');
 * ```
 */
export async function runCommandGate(
  command: string,
  cwd: string,
  options: CommandGateOptions,
): Promise<CommandGateResult> {
  const started = performance.now();
  const tail = createTail(options.maxOutputBytes ?? DEFAULT_MAX_OUTPUT_BYTES);
  const child = spawn('/bin/sh', ['-c', command], {
    cwd,
    env: options.env ?? defaultGateEnv(),
    detached: true, // new session, so pid === pgid and the whole group can be signalled
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout.on('data', tail.push);
  child.stderr.on('data', tail.push);
  const closed = new Promise<void>((resolve) => child.once('close', () => resolve()));
  const exited = new Promise<{ code: number | null; signal: string | null }>((resolve, reject) => {
    child.once('error', (cause) => reject(new CommandStartError(command, cwd, { cause })));
    child.once('exit', (code, signal) => resolve({ code, signal }));
  });

  const graceMs = options.killGraceMs ?? DEFAULT_KILL_GRACE_MS;
  let timedOut = false;
  let killedAt = 0;
  let escalation: NodeJS.Timeout | undefined;
  const timer = setTimeout(() => {
    timedOut = true;
    killedAt = performance.now();
    logger().info(
      { command, cwd, pgid: child.pid, timeoutMs: options.timeoutMs },
      'Gate command timed out; killing its group',
    );
    signalGroup(child.pid, 'SIGTERM');
    // A shell that ignores SIGTERM never exits on its own: escalate without waiting for it.
    escalation = setTimeout(() => signalGroup(child.pid, 'SIGKILL'), graceMs);
  }, options.timeoutMs);
  try {
    const { code, signal } = await exited;
    if (timedOut) await waitForGroupExit(child.pid, killedAt + graceMs);
    signalGroup(child.pid, 'SIGKILL');
    // Pipes close once the group is gone; don't hang on a process that escaped it.
    await Promise.race([closed, delay(1_000)]);
    const { output, truncated } = tail.read();
    return {
      passed: code === 0 && !timedOut,
      exitCode: code,
      signal,
      durationMs: Math.round(performance.now() - started),
      output,
      outputTruncated: truncated,
      timedOut,
    };
  } finally {
    clearTimeout(timer);
    clearTimeout(escalation);
    child.stdout.destroy();
    child.stderr.destroy();
  }
}

/** The allow-listed part of this process's environment. */
export function defaultGateEnv(): Record<string, string> {
  const env: Record<string, string> = {};
  for (const key of GATE_ENV_ALLOWLIST) {
    const value = process.env[key];
    if (value !== undefined) env[key] = value;
  }
  return env;
}

/** Signal every process in the group led by `pid`; a group that is already gone is fine. */
function signalGroup(pid: number | undefined, signal: NodeJS.Signals): void {
  if (pid === undefined) return;
  try {
    process.kill(-pid, signal);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ESRCH') throw error;
  }
}

/** Poll until no process is left in the group, or `deadline` (a performance.now() time) passes. */
async function waitForGroupExit(pid: number | undefined, deadline: number): Promise<void> {
  while (pid !== undefined && performance.now() < deadline) {
    try {
      process.kill(-pid, 0);
    } catch {
      return;
    }
    await delay(25);
  }
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref());
}

/** A byte buffer that keeps only the last `max` bytes pushed into it. */
function createTail(max: number) {
  const chunks: Buffer[] = [];
  let size = 0;
  let dropped = false;
  return {
    push: (chunk: Buffer) => {
      chunks.push(chunk);
      size += chunk.length;
      while (chunks.length > 1 && size - chunks[0]!.length >= max) {
        size -= chunks.shift()!.length;
        dropped = true;
      }
    },
    read: () => {
      const all = Buffer.concat(chunks);
      const cut = all.length > max;
      return {
        output: all.subarray(cut ? all.length - max : 0).toString('utf8'),
        truncated: dropped || cut,
      };
    },
  };
}
