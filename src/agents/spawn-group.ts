/**
 * Subprocess discipline for agents: each child leads its own process group (so a timeout kills
 * the grandchildren too), has stdin closed, writes a transcript, and cannot flood memory or disk.
 * Every child also gets a `LOOPWRIGHT_PROCESS_TAG` (a fresh UUID, or for an agent one derived
 * from its run id), so descendants that leave the group (Claude Code runs its Bash tool's commands
 * with setsid) are found and killed with it.
 *
 * Node's child_process is used directly rather than execa: execa signals only the child it
 * spawned, and every kill here must address the whole group (`kill(-pgid)`).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { createWriteStream, existsSync, mkdirSync, type WriteStream } from 'node:fs';
import path from 'node:path';
import { StringDecoder } from 'node:string_decoder';
import {
  findRunMembers,
  groupExists,
  PROCESS_TAG_ENV,
  processStartTime,
  type RunMember,
} from './process-identity.js';
import type { SpawnedGroup } from './provider.js';
import {
  detectSandbox,
  prepareSandboxedLaunch,
  type SandboxedLaunch,
  type SandboxSpec,
  wantsSandbox,
} from './sandbox/index.js';

/** Why a group stopped, before any provider interprets its output. */
export type GroupEnding =
  | 'exit'
  | 'timeout'
  | 'aborted'
  | 'truncated'
  | 'spawn-failed'
  | 'on-spawn-failed'
  /** No progress line for `stallMs`. */
  | 'stalled'
  /** `watchLine` said the run cannot succeed (refused credentials, no network). */
  | 'unavailable';

/**
 * What a line means to {@link GroupSpec.watchLine}: progress resets the stall timer, noise does
 * not.
 */
export type LineWatch = 'progress' | 'noise' | { readonly stop: string };

export interface GroupSpec {
  readonly argv: readonly string[];
  readonly cwd: string;
  /** The group's process tag (default: a fresh UUID); agents pass `agentProcessTag(runId)`. */
  readonly tag?: string;
  readonly env: Readonly<Record<string, string>>;
  readonly timeoutMs: number;
  /**
   * Capture at most this many bytes of stdout+stderr; crossing it kills the group (may be
   * Infinity).
   */
  readonly maxOutputBytes: number;
  /** Where both streams are written, line by line; absent: no transcript file. */
  readonly transcriptPath?: string;
  /** Between SIGTERM and SIGKILL. */
  readonly killGraceMs: number;
  readonly signal?: AbortSignal;
  readonly onSpawn?: (group: SpawnedGroup) => void | Promise<void>;
  /** Each complete stdout line within the cap, as it arrives. */
  readonly onStdoutLine?: (line: string) => void;
  /** Every captured chunk of stdout or stderr, interleaved as it arrives (within the cap). */
  readonly onOutput?: (chunk: Buffer) => void;
  /** Run inside the sandbox; absent or mode `none`: a plain process group. */
  readonly sandbox?: SandboxSpec;
  /** Stop the group as `stalled` when no line counted as progress arrives for this long. */
  readonly stallMs?: number;
  /** Reads every line (stdout and stderr); without it every line is progress. */
  readonly watchLine?: (line: string, stream: 'stdout' | 'stderr') => LineWatch;
}

export interface GroupResult {
  readonly ending: GroupEnding;
  readonly exitCode: number | null;
  readonly signal: string | null;
  readonly durationMs: number;
  readonly outputTruncated: boolean;
  /** The last few KiB of stderr, for error messages. */
  readonly stderrTail: string;
  readonly failure?: string;
  readonly group?: SpawnedGroup;
}

export const DEFAULT_KILL_GRACE_MS = 3_000;
const STDERR_TAIL_BYTES = 4_096;
/**
 * After the leader exits and its group is gone, how long a stray pipe holder may keep stdio open.
 */
const STDIO_DRAIN_MS = 1_000;
const GROUP_POLL_MS = 25;

/**
 * Run `argv` as the leader of a new process group and wait until the leader has exited, every
 * other member of the group is dead, and the transcript is flushed. Never throws for a failing
 * child; the result says what happened.
 *
 * @example
 * const result = await runProcessGroup({ argv: ['claude', '-p', 'hi'], cwd, env, timeoutMs: 60_000,
 *   maxOutputBytes: 1 << 20, transcriptPath, killGraceMs: 3_000, onStdoutLine: parser.push });
 */
export async function runProcessGroup(spec: GroupSpec): Promise<GroupResult> {
  const started = Date.now();
  if (spec.signal?.aborted) return notStarted('aborted');
  const [file, ...args] = spec.argv;
  if (!file) throw new TypeError('runProcessGroup: empty argv');
  if (!existsSync(spec.cwd))
    return notStarted('spawn-failed', `working directory does not exist: ${spec.cwd}`);
  const tag = spec.tag ?? randomUUID();
  const env = { ...spec.env, [PROCESS_TAG_ENV]: tag };
  let launch: SandboxedLaunch | undefined;
  if (wantsSandbox(spec.sandbox)) {
    try {
      const command = { argv: spec.argv, env, cwd: spec.cwd };
      launch = await prepareSandboxedLaunch(spec.sandbox, command, await detectSandbox());
    } catch (error) {
      return notStarted('spawn-failed', (error as Error).message);
    }
  }
  let transcript: WriteStream | null = null;
  if (spec.transcriptPath) {
    mkdirSync(path.dirname(spec.transcriptPath), { recursive: true });
    transcript = createWriteStream(spec.transcriptPath, { flags: 'w' });
  }
  try {
    const child = launch
      ? spawnSandboxed(launch, spec.cwd, tag)
      : spawnPlain(file, args, spec.cwd, env);
    const run = new GroupRun(spec, child, transcript, tag, launch !== undefined);
    const result = await run.settle();
    return { ...result, durationMs: Date.now() - started };
  } finally {
    if (transcript) await new Promise<void>((resolve) => transcript.end(resolve));
    launch?.cleanup();
  }
}

function spawnPlain(
  file: string,
  args: readonly string[],
  cwd: string,
  env: Record<string, string>,
): ChildProcess {
  return spawn(file, args, { cwd, env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
}

/**
 * bwrap leads the group; it reads its options (mounts, environment) from stdin, so they never
 * show in `ps`. Its own environment is PATH and the run's tag only.
 */
function spawnSandboxed(launch: SandboxedLaunch, cwd: string, tag: string): ChildProcess {
  const env = { PATH: process.env.PATH ?? '/usr/bin:/bin', [PROCESS_TAG_ENV]: tag };
  const child = spawn(launch.file, launch.args, {
    cwd,
    env,
    detached: true,
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  child.stdin?.on('error', () => {}); // bwrap died before reading: its exit says why
  child.stdin?.end(launch.argsData);
  return child;
}

function notStarted(ending: GroupEnding, failure?: string): GroupResult {
  return {
    ending,
    exitCode: null,
    signal: null,
    durationMs: 0,
    outputTruncated: false,
    stderrTail: '',
    ...(failure ? { failure } : {}),
  };
}

/** One running group: capture, timers and the kill sequence. */
class GroupRun {
  private ending: GroupEnding | null = null;
  private failure: string | undefined;
  private captured = 0;
  private truncated = false;
  private stderrTail = '';
  private group: SpawnedGroup | undefined;
  private timer: NodeJS.Timeout | undefined;
  private stallTimer: NodeJS.Timeout | undefined;
  private disarmAbort: () => void = () => {};
  private killPromise: Promise<void> | undefined;

  constructor(
    private readonly spec: GroupSpec,
    private readonly child: ChildProcess,
    private readonly transcript: WriteStream | null,
    private readonly tag: string,
    /** Run under bwrap (its own pid namespace). */
    private readonly contained: boolean,
  ) {}

  async settle(): Promise<Omit<GroupResult, 'durationMs'>> {
    const exited = new Promise<{ code: number | null; signal: string | null }>((resolve) => {
      this.child.once('exit', (code, signal) => resolve({ code, signal }));
    });
    const spawned = await new Promise<boolean>((resolve) => {
      this.child.once('spawn', () => resolve(true));
      this.child.once('error', (error) => {
        this.failure = `cannot start ${this.spec.argv[0]}: ${error.message}`;
        resolve(false);
      });
    });
    if (!spawned || this.child.pid === undefined) return this.result('spawn-failed', null, null);
    const pid = this.child.pid;
    this.group = { pid, pgid: pid, startTime: processStartTime(pid) ?? 'unknown', tag: this.tag };
    const streamsClosed = this.capture();
    this.arm();
    await this.announce();
    const { code, signal } = await exited;
    // Whatever the leader left behind (background shells, servers) dies with the run. In the
    // sandbox nothing can be left outside bwrap's group: its processes live in a pid namespace
    // the kernel kills before bwrap exits, so only a group still there is worth a /proc scan.
    const leftovers = this.contained ? groupExists(pid) : this.members().length > 0;
    if (leftovers) await this.killGroup();
    this.disarm();
    await Promise.race([streamsClosed, delay(STDIO_DRAIN_MS)]);
    this.child.stdout?.destroy();
    this.child.stderr?.destroy();
    if (this.truncated)
      this.transcript?.write(
        `\n[loopwright: output cap of ${this.spec.maxOutputBytes} bytes reached; process ` +
          `group killed]\n`,
      );
    return this.result(this.ending ?? 'exit', code, signal);
  }

  private result(
    ending: GroupEnding,
    exitCode: number | null,
    signal: string | null,
  ): Omit<GroupResult, 'durationMs'> {
    return {
      ending,
      exitCode,
      signal,
      outputTruncated: this.truncated,
      stderrTail: this.stderrTail,
      ...(this.failure ? { failure: this.failure } : {}),
      ...(this.group ? { group: this.group } : {}),
    };
  }

  /** Tell the caller where the group is; if that fails, the run must not continue untracked. */
  private async announce(): Promise<void> {
    if (!this.spec.onSpawn || !this.group) return;
    try {
      await this.spec.onSpawn(this.group);
    } catch (error) {
      this.failure = `onSpawn failed: ${(error as Error).message}`;
      this.stop('on-spawn-failed');
    }
  }

  private arm(): void {
    this.timer = setTimeout(() => this.stop('timeout'), this.spec.timeoutMs);
    this.resetStall();
    const onAbort = () => this.stop('aborted');
    this.spec.signal?.addEventListener('abort', onAbort, { once: true });
    this.disarmAbort = () => this.spec.signal?.removeEventListener('abort', onAbort);
  }

  private disarm(): void {
    clearTimeout(this.timer);
    clearTimeout(this.stallTimer);
    this.disarmAbort();
  }

  /** (Re)start the stall timer, when one is configured and the run is still going. */
  private resetStall(): void {
    const ms = this.spec.stallMs;
    if (ms === undefined || this.ending) return;
    clearTimeout(this.stallTimer);
    this.stallTimer = setTimeout(() => {
      const secs = Math.round(ms / 1000);
      this.failure ??= `no progress for ${secs}s (only silence or reconnect messages)`;
      this.stop('stalled');
    }, ms);
  }

  /** A line arrived: progress resets the stall timer; a stop verdict ends the run. */
  private watch(line: string, stream: 'stdout' | 'stderr'): void {
    const verdict = this.spec.watchLine ? this.spec.watchLine(line, stream) : 'progress';
    if (verdict === 'progress') this.resetStall();
    else if (verdict !== 'noise' && !this.ending) {
      this.failure ??= verdict.stop;
      this.stop('unavailable');
    }
  }

  /** First reason wins; the kill sequence runs once. */
  private stop(reason: GroupEnding): void {
    if (this.ending) return;
    this.ending = reason;
    void this.killGroup();
  }

  /** Live processes of this run: the group, plus tagged descendants that left it. */
  private members(): RunMember[] {
    return this.group ? findRunMembers(this.group.pgid, this.tag, this.group.startTime) : [];
  }

  /**
   * SIGTERM everything of the run, SIGKILL it after the grace period, then wait until nothing runs.
   */
  private killGroup(): Promise<void> {
    this.killPromise ??= (async () => {
      const pgid = this.group?.pgid;
      if (pgid === undefined) return;
      this.signalAll(pgid, 'SIGTERM');
      const deadline = Date.now() + this.spec.killGraceMs;
      while (this.members().length > 0 && Date.now() < deadline) await delay(GROUP_POLL_MS);
      if (this.members().length > 0) this.signalAll(pgid, 'SIGKILL');
      const reaped = Date.now() + 2_000;
      while (this.members().length > 0 && Date.now() < reaped) await delay(GROUP_POLL_MS);
    })();
    return this.killPromise;
  }

  /** The group, and each escaped member (with its own group, if it leads one). */
  private signalAll(pgid: number, signal: NodeJS.Signals): void {
    signalProcess(-pgid, signal);
    for (const member of this.members()) {
      if (member.pgrp === member.pid && member.pgrp !== pgid) signalProcess(-member.pgrp, signal);
      signalProcess(member.pid, signal);
    }
  }

  /** Line-split both streams into the transcript, within the byte cap; resolves when both close. */
  private capture(): Promise<void> {
    const streams = [
      { stream: this.child.stdout, name: 'stdout' as const, onLine: this.spec.onStdoutLine },
      {
        stream: this.child.stderr,
        name: 'stderr' as const,
        onLine: (line: string) => this.keepStderr(line),
      },
    ];
    return Promise.all(
      streams.map(
        ({ stream, name, onLine }) =>
          new Promise<void>((resolve) => {
            if (!stream) return resolve();
            const lines = new LineSplitter((line) => {
              this.transcript?.write(`${line}\n`);
              onLine?.(line);
              this.watch(line, name);
            });
            stream.on('data', (chunk: Buffer) => lines.push(this.admit(chunk)));
            stream.once('close', () => {
              lines.end();
              resolve();
            });
          }),
      ),
    ).then(() => undefined);
  }

  /** The part of `chunk` that fits under the cap; crossing it stops capture and kills the group. */
  private admit(chunk: Buffer): Buffer {
    if (this.truncated) return Buffer.alloc(0);
    const room = this.spec.maxOutputBytes - this.captured;
    if (chunk.length <= room) {
      this.captured += chunk.length;
      this.spec.onOutput?.(chunk);
      return chunk;
    }
    this.truncated = true;
    this.captured = this.spec.maxOutputBytes;
    this.stop('truncated');
    const admitted = chunk.subarray(0, Math.max(0, room));
    if (admitted.length > 0) this.spec.onOutput?.(admitted);
    return admitted;
  }

  private keepStderr(line: string): void {
    this.stderrTail = `${this.stderrTail}${line}\n`.slice(-STDERR_TAIL_BYTES);
  }
}

/** Splits a byte stream into UTF-8 lines (a partial last line is flushed at the end). */
class LineSplitter {
  private readonly decoder = new StringDecoder('utf8');
  private pending = '';

  constructor(private readonly emit: (line: string) => void) {}

  push(chunk: Buffer): void {
    if (chunk.length === 0) return;
    this.pending += this.decoder.write(chunk);
    let newline = this.pending.indexOf('\n');
    while (newline !== -1) {
      this.emit(this.pending.slice(0, newline));
      this.pending = this.pending.slice(newline + 1);
      newline = this.pending.indexOf('\n');
    }
  }

  end(): void {
    this.pending += this.decoder.end();
    if (this.pending) this.emit(this.pending);
    this.pending = '';
  }
}

function signalProcess(target: number, signal: NodeJS.Signals): void {
  if (!Number.isInteger(target) || Math.abs(target) <= 1) return; // never kill(0), kill(±1)
  try {
    process.kill(target, signal);
  } catch {
    // ESRCH: already gone. EPERM: not ours (cannot happen for what we started).
  }
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
