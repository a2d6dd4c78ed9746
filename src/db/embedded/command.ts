/**
 * One short command-line tool run (id, useradd, initdb, pg_ctl) and what it printed, with plain
 * `child_process`: these few calls do not need a process library, and `loopwright run` imports
 * this module on every start (a smaller import graph starts faster and forks its agents faster).
 */
import { spawn } from 'node:child_process';

export interface CommandOptions {
  readonly cwd?: string;
  /** The whole environment of the command (nothing is inherited beyond it). */
  readonly env?: NodeJS.ProcessEnv;
  readonly uid?: number;
  readonly gid?: number;
  /** Its own process group (a Ctrl-C aimed at the CLI does not reach it). */
  readonly detached?: boolean;
  /** SIGTERM after this long, SIGKILL 5 s later. */
  readonly timeoutMs?: number;
}

export interface CommandResult {
  /** The exit code; undefined when it could not start, was killed or timed out. */
  readonly exitCode: number | undefined;
  readonly stdout: string;
  /** stdout and stderr interleaved as they arrived. */
  readonly output: string;
  /** Why there is no exit code ("cannot start id: spawn id ENOENT", "timed out after 5000 ms"). */
  readonly failure?: string;
}

const KILL_GRACE_MS = 5_000;

/**
 * Run `file` with `args`; never throws or rejects: the result says what happened.
 *
 * @example
 * const { exitCode, stdout } = await runCommand('id', ['-u', 'postgres']);
 */
export function runCommand(
  file: string,
  args: readonly string[],
  o: CommandOptions = {},
): Promise<CommandResult> {
  return new Promise((resolve) => {
    const stdout: Buffer[] = [];
    const output: Buffer[] = [];
    let failure: string | undefined;
    let timedOut = false;
    let settled = false;
    const timers: NodeJS.Timeout[] = [];
    const child = spawn(file, args, {
      stdio: ['ignore', 'pipe', 'pipe'],
      ...(o.cwd ? { cwd: o.cwd } : {}),
      ...(o.env ? { env: o.env } : {}),
      ...(o.uid !== undefined ? { uid: o.uid } : {}),
      ...(o.gid !== undefined ? { gid: o.gid } : {}),
      ...(o.detached ? { detached: true } : {}),
    });
    child.stdout.on('data', (chunk: Buffer) => {
      stdout.push(chunk);
      output.push(chunk);
    });
    child.stderr.on('data', (chunk: Buffer) => output.push(chunk));
    const finish = (exitCode: number | undefined) => {
      if (settled) return;
      settled = true;
      for (const timer of timers) clearTimeout(timer);
      resolve({
        exitCode,
        stdout: Buffer.concat(stdout).toString('utf8'),
        output: Buffer.concat(output).toString('utf8'),
        ...(failure ? { failure } : {}),
      });
    };
    child.once('error', (error) => {
      failure ??= `cannot start ${file}: ${error.message}`;
      // No 'close' follows when the process never started.
      if (child.pid === undefined) finish(undefined);
    });
    child.once('close', (code, signal) => {
      if (timedOut) failure = `${file} timed out after ${o.timeoutMs} ms`;
      else if (signal) failure ??= `${file} was killed by ${signal}`;
      finish(signal || timedOut ? undefined : (code ?? undefined));
    });
    if (o.timeoutMs) {
      const term = setTimeout(() => {
        timedOut = true;
        child.kill('SIGTERM');
        const kill = setTimeout(() => child.kill('SIGKILL'), KILL_GRACE_MS);
        kill.unref();
        timers.push(kill);
      }, o.timeoutMs);
      term.unref();
      timers.push(term);
    }
  });
}
