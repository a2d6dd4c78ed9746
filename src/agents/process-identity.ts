/**
 * Telling processes apart after the fact. A pid alone is not an identity — the kernel reuses them —
 * so every agent group is recorded with its leader's start time, and a later reaper only acts when
 * pid and start time both still match.
 */
import { execFileSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';

/** The fields of /proc/<pid>/stat that follow the parenthesised command name (field 3 on). */
function statFields(pid: number): string[] | null {
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return null;
  }
  // The command name (field 2) may contain spaces and parentheses; it ends at the last ')'.
  return stat.slice(stat.lastIndexOf(')') + 2).split(' ');
}

/** Field N of /proc/<pid>/stat (1-based, as in proc(5)); only for N >= 3. */
function statField(fields: readonly string[], n: number): string | undefined {
  return fields[n - 3];
}

/**
 * The start time of `pid` as an opaque string, or null if there is no such process. On Linux it is
 * field 22 of /proc/<pid>/stat (clock ticks since boot); elsewhere `ps -o lstart=`.
 *
 * @example
 * const started = processStartTime(child.pid); // "1234567"
 */
export function processStartTime(pid: number): string | null {
  if (!Number.isInteger(pid) || pid <= 0) return null;
  if (process.platform === 'linux') {
    const fields = statFields(pid);
    return fields ? (statField(fields, 22) ?? null) : null;
  }
  try {
    const out = execFileSync('ps', ['-o', 'lstart=', '-p', String(pid)], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
    });
    return out.trim() || null;
  } catch {
    return null;
  }
}

/** True if `pid` exists and is not a zombie. */
export function isProcessAlive(pid: number): boolean {
  if (process.platform === 'linux') {
    const fields = statFields(pid);
    return fields !== null && statField(fields, 3) !== 'Z';
  }
  return signalZero(pid);
}

/**
 * True if any live (non-zombie) process is in group `pgid`. A group whose members are all zombies
 * waiting for a reaper counts as gone: nothing in it can run again.
 */
export function isGroupAlive(pgid: number): boolean {
  return signalZero(-pgid) && findRunMembers(pgid).length > 0;
}

/**
 * True if any process (a zombie included) is still in group `pgid`: one `kill(-pgid, 0)`, no scan.
 */
export function groupExists(pgid: number): boolean {
  return signalZero(-pgid);
}

/**
 * Set in every agent's and gate's environment; descendants inherit it. A gate's tag is a fresh
 * UUID; an agent's is derived from its run id ({@link agentProcessTag}), so the processes of a run
 * whose pid was never recorded (its orchestrator died between spawn and write) can still be found.
 */
export const PROCESS_TAG_ENV = 'LOOPWRIGHT_PROCESS_TAG';

/**
 * A fresh process tag for an agent run, prefixed with its run id: unique per process group (a
 * group's post-exit scan never touches another's processes), yet a sweeper can find the run's
 * processes from its row alone ({@link findRunProcesses}).
 *
 * @example
 * ```ts
 * agentProcessTag(run.id); // "run-<run id>.<uuid>"
 * ```
 */
export function agentProcessTag(runId: string): string {
  return `${runTagPrefix(runId)}${randomUUID()}`;
}

/** Every live process whose tag says it belongs to agent run `runId` (any of its groups). */
export function findRunProcesses(runId: string): RunMember[] {
  if (process.platform !== 'linux') return [];
  const prefix = tagEntry(runTagPrefix(runId));
  return scanProcesses((pid) => hasEnvEntry(pid, (entry) => entry.startsWith(prefix)));
}

function runTagPrefix(runId: string): string {
  return `run-${runId}.`;
}

/** The `NAME=value` environment entry for a run's tag. */
export function tagEntry(tag: string): string {
  return `${PROCESS_TAG_ENV}=${tag}`;
}

/** A live process that belongs to an agent run: in its group, or carrying its tag. */
export interface RunMember {
  readonly pid: number;
  /** Its current process group (it may have left the agent's group with setsid). */
  readonly pgrp: number;
}

/**
 * Every live (non-zombie) process that is in group `pgid` or carries the run's `tag` in its
 * initial environment. The tag finds descendants that left the group — Claude Code, for one, runs
 * its Bash tool's commands in a session of their own — even after they were re-parented to init.
 * With `since` (the leader's start time, {@link processStartTime}) only processes started no
 * earlier are read for the tag: a descendant never predates its ancestor, and reading every
 * process's environment is what made this scan slow on a busy machine.
 * Linux only; elsewhere it can only say whether the group exists.
 */
export function findRunMembers(pgid: number, tag?: string, since?: string): RunMember[] {
  if (!Number.isInteger(pgid) || pgid <= 1)
    throw new RangeError(`not an agent process group: ${pgid}`);
  if (process.platform !== 'linux') return signalZero(-pgid) ? [{ pid: pgid, pgrp: pgid }] : [];
  const entry = tag === undefined ? undefined : tagEntry(tag);
  const from = since !== undefined && /^\d+$/.test(since) ? Number(since) : 0;
  return scanProcesses(
    (pid, pgrp, started) =>
      pgrp === pgid ||
      (entry !== undefined && started >= from && hasEnvEntry(pid, (e) => e === entry)),
  );
}

/** Live processes carrying the run's tag, wherever they are (Linux only; [] elsewhere). */
export function findTaggedProcesses(tag: string): RunMember[] {
  if (process.platform !== 'linux') return [];
  const entry = tagEntry(tag);
  return scanProcesses((pid) => hasEnvEntry(pid, (e) => e === entry));
}

function scanProcesses(
  select: (pid: number, pgrp: number, started: number) => boolean,
): RunMember[] {
  const members: RunMember[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const pid = Number(name);
    const fields = statFields(pid);
    if (!fields || statField(fields, 3) === 'Z') continue;
    const pgrp = Number(statField(fields, 5));
    // Never pid 1 or the kernel's threads (pgrp 0), whatever they claim.
    const started = Number(statField(fields, 22));
    if (pid > 1 && pgrp > 0 && select(pid, pgrp, started)) members.push({ pid, pgrp });
  }
  return members;
}

function hasEnvEntry(pid: number, matches: (entry: string) => boolean): boolean {
  try {
    return readFileSync(`/proc/${pid}/environ`, 'latin1').split('\0').some(matches);
  } catch {
    return false; // gone, or not ours to read
  }
}

/** `kill(target, 0)`: does it exist (EPERM means it does, just not ours)? */
function signalZero(target: number): boolean {
  try {
    process.kill(target, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * This process in a temporary directory's name (`p<pid>.<start time>-`), so that one left behind
 * by a killed process is recognized at once (see {@link nameOwnerGone}), not only by its age.
 * Empty where the start time is not a plain number (non-Linux).
 *
 * @example
 * ```ts
 * mkdtempSync(path.join(os.tmpdir(), `loopwright-sbx-${ownerTag()}`)); // ...-p4242.981234-Xy12Ab
 * ```
 */
export function ownerTag(): string {
  // This process's pid and start time never change while it runs: read /proc once, not for every
  // scratch directory (a read of /proc/<pid>/stat took 1-5 ms under load here).
  if (ownTag === undefined) {
    const started = processStartTime(process.pid);
    ownTag = started && /^\d+$/.test(started) ? `p${process.pid}.${started}-` : '';
  }
  return ownTag;
}

let ownTag: string | undefined;

/**
 * Whether a directory name made with {@link ownerTag} (and mkdtemp's six characters) names its
 * creator and that process is gone (this host); false for a name without one.
 */
export function nameOwnerGone(name: string): boolean {
  const owner = /-p(\d+)\.(\d+)-[A-Za-z0-9]{6}$/.exec(name);
  return owner !== null && processStartTime(Number(owner[1])) !== owner[2];
}
