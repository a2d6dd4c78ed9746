/**
 * Run a repository's command (tests, lint, live check) as a gate: `/bin/sh -c` in its own process
 * group (the one runner, src/agents/spawn-group.ts, optionally inside the sandbox), with a time
 * limit that kills the whole group, and only the tail of its output kept. RED expects
 * `passed: false`, GREEN and repo checks `passed: true`, the live check after merge too.
 */
import { runProcessGroup } from '../agents/spawn-group.js';
import type { SandboxSpec } from '../agents/sandbox/index.js';
import { LoopwrightError } from '../errors.js';
import { logger } from '../log/logger.js';

/**
 * Environment variables a gate command inherits by default; everything else (keys, tokens) stays
 * out.
 */
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
  /**
   * The command's whole environment. Default: {@link GATE_ENV_ALLOWLIST} taken from this process.
   */
  readonly env?: Readonly<Record<string, string>>;
  /** Keep at most this many bytes from the end of stdout+stderr (default 64 KiB). */
  readonly maxOutputBytes?: number;
  /** After a timeout: time between SIGTERM and SIGKILL to the group (default 2 s). */
  readonly killGraceMs?: number;
  /**
   * Run the command inside the sandbox (a test suite is agent-written code); absent: plain group.
   */
  readonly sandbox?: SandboxSpec;
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
      `could not start gate command ${JSON.stringify(command)} in ${cwd}` +
        (options.cause instanceof Error ? `: ${options.cause.message}` : ''),
      options,
    );
  }
}

/**
 * Run `command` with `/bin/sh -c` in `cwd`. Whatever is still alive in its process group when the
 * shell exits (background jobs, a timed-out test runner's children, daemons that called setsid:
 * they carry the run's process tag) is killed, so a gate never leaves processes behind.
 *
 * @throws CommandStartError when the shell cannot be spawned (a failed start must never read as
 *   RED), including a sandbox that is required but does not work.
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
  const tail = createTail(options.maxOutputBytes ?? DEFAULT_MAX_OUTPUT_BYTES);
  const result = await runProcessGroup({
    argv: ['/bin/sh', '-c', command],
    cwd,
    env: options.env ?? defaultGateEnv(),
    timeoutMs: options.timeoutMs,
    // Only the tail is kept, so a chatty test suite is not a reason to kill it.
    maxOutputBytes: Number.POSITIVE_INFINITY,
    killGraceMs: options.killGraceMs ?? DEFAULT_KILL_GRACE_MS,
    onOutput: tail.push,
    ...(options.sandbox ? { sandbox: options.sandbox } : {}),
  });
  if (result.ending === 'spawn-failed')
    throw new CommandStartError(command, cwd, {
      cause: new Error(result.failure ?? 'spawn failed'),
    });
  const timedOut = result.ending === 'timeout';
  if (timedOut)
    logger().info(
      { command, cwd, pgid: result.group?.pgid, timeoutMs: options.timeoutMs },
      'Gate command timed out; its group was killed',
    );
  const { output, truncated } = tail.read();
  return {
    passed: result.exitCode === 0 && !timedOut,
    exitCode: result.exitCode,
    signal: result.signal,
    durationMs: result.durationMs,
    output,
    outputTruncated: truncated,
    timedOut,
  };
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
