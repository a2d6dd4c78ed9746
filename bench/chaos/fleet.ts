/**
 * The orchestrators under test: real `loopwright run` processes (the CLI as subprocesses), with no
 * supervisor. Only the driver restarts a process, and only one it killed itself; a process that
 * exits on its own is recorded as a failure and stays down.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** How to start the CLI: the compiled one (bin/loopwright.js) or the sources through tsx. */
export type CliMode = 'dist' | 'tsx';

export interface FleetOptions {
  readonly size: number;
  readonly databaseUrl: string;
  readonly home: string;
  readonly cli: CliMode;
  /** Package root (where bin/ and src/ are). */
  readonly root: string;
  /**
   * When set, each process logs at info, and its whole stderr also goes to
   * `<logDir>/orchestrator-<slot>-<pid>.log`.
   */
  readonly logDir?: string;
}

/** One process that ended without being asked to. */
export interface SelfExit {
  readonly slot: number;
  readonly pid: number;
  readonly code: number | null;
  readonly signal: string | null;
  readonly stderrTail: string;
}

/** How a process ended when the driver stopped the fleet. */
export interface StopOutcome {
  readonly pid: number;
  /** Exit code, or the name of the signal that ended it. */
  readonly how: number | string;
  readonly stderrTail: string;
}

interface Member {
  child: ChildProcess;
  /** Set when the driver signalled it: its exit is expected. */
  expectExit: boolean;
  stderr: string;
  exited: Promise<void>;
}

/** The package root, from this module's place in bench/chaos (sources) or dist/bench/chaos. */
export function packageRootHere(): { root: string; cli: CliMode } {
  const here = path.dirname(fileURLToPath(import.meta.url));
  const compiled = here.split(path.sep).includes('dist');
  return {
    root: path.resolve(here, compiled ? '../../..' : '../..'),
    cli: compiled ? 'dist' : 'tsx',
  };
}

/** The argv prefix that starts the CLI in `mode` (after the Node binary). */
export function cliArgv(root: string, mode: CliMode): string[] {
  return mode === 'dist'
    ? [path.join(root, 'bin/loopwright.js')]
    : ['--import', 'tsx', path.join(root, 'src/cli/entry.ts')];
}

/** The environment of a CLI process on the chaos database and home (nothing else inherited). */
export function cliEnv(databaseUrl: string, home: string): NodeJS.ProcessEnv {
  return {
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    LOOPWRIGHT_DATABASE_URL: databaseUrl,
    LOOPWRIGHT_HOME: home,
  };
}

export class Fleet {
  readonly selfExits: SelfExit[] = [];
  readonly starts: number[] = [];
  private readonly members: Member[] = [];

  constructor(private readonly o: FleetOptions) {}

  start(): void {
    for (let slot = 0; slot < this.o.size; slot++) this.members[slot] = this.spawnMember(slot);
  }

  /** Pids of the processes currently up. */
  pids(): number[] {
    return this.members.filter((m) => isUp(m.child)).map((m) => m.child.pid!);
  }

  /** SIGKILL the process with `pid` (one of ours) and start a new one in its slot. */
  async killAndRestart(pid: number, restartDelayMs: number): Promise<boolean> {
    const slot = this.members.findIndex((m) => m.child.pid === pid && isUp(m.child));
    if (slot < 0) return false;
    const member = this.members[slot]!;
    member.expectExit = true;
    member.child.kill('SIGKILL');
    await member.exited;
    await new Promise((r) => setTimeout(r, restartDelayMs));
    this.members[slot] = this.spawnMember(slot);
    return true;
  }

  /**
   * SIGTERM every process still up and wait for it; returns how each ended: its exit code, or the
   * signal's name (SIGTERM before the handler was installed; SIGKILL after `timeoutMs`), with the
   * tail of what it wrote to stderr.
   */
  async stop(timeoutMs = 60_000): Promise<StopOutcome[]> {
    const up = this.members.filter((m) => isUp(m.child));
    for (const m of up) {
      m.expectExit = true;
      m.child.kill('SIGTERM');
    }
    const timer = setTimeout(() => {
      for (const m of up) if (isUp(m.child)) m.child.kill('SIGKILL');
    }, timeoutMs);
    await Promise.all(up.map((m) => m.exited));
    clearTimeout(timer);
    return up.map((m) => ({
      pid: m.child.pid!,
      how: m.child.exitCode ?? m.child.signalCode ?? 'unknown',
      stderrTail: m.stderr.slice(-2000),
    }));
  }

  /** Last kill: anything still up (after a failure elsewhere). */
  killAll(): void {
    for (const m of this.members) {
      if (!m || !isUp(m.child)) continue;
      m.expectExit = true;
      m.child.kill('SIGKILL');
    }
  }

  private spawnMember(slot: number): Member {
    const { root } = this.o;
    const argv = [...cliArgv(root, this.o.cli), 'run', '--concurrency', '2', '--max-active', '6'];
    const child = spawn(process.execPath, [...argv, '--no-console'], {
      cwd: root,
      env: {
        ...cliEnv(this.o.databaseUrl, this.o.home),
        LOOPWRIGHT_LOG_LEVEL: this.o.logDir ? 'info' : 'warn',
      },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    const member: Member = { child, expectExit: false, stderr: '', exited: Promise.resolve() };
    const log = this.o.logDir
      ? createWriteStream(path.join(this.o.logDir, `orchestrator-${slot}-${child.pid}.log`))
      : undefined;
    child.stderr!.on('data', (d: Buffer) => {
      member.stderr = (member.stderr + d.toString()).slice(-8000);
      log?.write(d);
    });
    child.stderr!.once('end', () => log?.end());
    member.exited = new Promise((resolve) => {
      child.once('exit', (code, signal) => {
        if (!member.expectExit)
          this.selfExits.push({
            slot,
            pid: child.pid!,
            code,
            signal,
            stderrTail: member.stderr.slice(-2000),
          });
        resolve();
      });
    });
    this.starts.push(child.pid!);
    return member;
  }
}

function isUp(child: ChildProcess): boolean {
  return child.exitCode === null && child.signalCode === null;
}
