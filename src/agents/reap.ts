/**
 * Reaping orphaned agent groups: a pool that died left its agents running; the next pool on the
 * same host kills them — but only those it can prove are still the same processes.
 */
import {
  findRunProcesses,
  findTaggedProcesses,
  isGroupAlive,
  processStartTime,
  type RunMember,
} from './process-identity.js';
import type { SpawnedGroup } from './provider.js';

export { processStartTime } from './process-identity.js';

export type ReapSkipReason = 'gone' | 'pid-reused' | 'not-a-leader' | 'not-permitted';

/** What {@link reapOrphans} did, entry by entry; it never throws for one bad entry. */
export interface ReapResult {
  readonly killed: readonly SpawnedGroup[];
  readonly skipped: readonly { readonly group: SpawnedGroup; readonly reason: ReapSkipReason }[];
}

/**
 * SIGKILL every recorded group whose leader pid is still alive with the recorded start time, and
 * every live process carrying the group's unique tag (descendants that left the group; the tag
 * proves they are ours even when the leader is gone). Anything else is left alone: a vanished
 * leader (`gone`), a pid the kernel has since given to another process (`pid-reused`), a record
 * whose pgid is not its pid (`not-a-leader`), or a group owned by another user (`not-permitted`).
 * Orphans get no grace period: their run is already lost and will be re-dispatched.
 *
 * @example
 * const { killed } = reapOrphans(await listRunningGroupsOfDeadPools(db, host));
 */
export function reapOrphans(groups: readonly SpawnedGroup[]): ReapResult {
  const killed: SpawnedGroup[] = [];
  const skipped: { group: SpawnedGroup; reason: ReapSkipReason }[] = [];
  for (const group of groups) {
    const taggedKilled = killTagged(group);
    const reason = reapLeader(group);
    if (reason && !taggedKilled) skipped.push({ group, reason });
    else killed.push(group);
  }
  return { killed, skipped };
}

function reapLeader(group: SpawnedGroup): ReapSkipReason | null {
  // kill(-1) would signal every process we may signal; a record like that is never ours.
  if (!Number.isInteger(group.pid) || group.pid <= 1) return 'not-a-leader';
  const now = processStartTime(group.pid);
  if (now === null) return 'gone';
  if (now !== group.startTime) return 'pid-reused';
  // Agents lead their own group (pgid = pid); a record saying otherwise is not ours to act on.
  if (group.pgid !== group.pid) return 'not-a-leader';
  if (!isGroupAlive(group.pgid)) return 'gone';
  try {
    process.kill(-group.pgid, 'SIGKILL');
    return null;
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    return code === 'EPERM' ? 'not-permitted' : 'gone';
  }
}

/**
 * SIGKILL every live process of agent run `runId`, found by the run-id prefix of its tag: the
 * run of a pool that died between spawning the agent and recording its pid names no process.
 * Returns how many processes were signalled.
 */
export function reapUnrecordedRun(runId: string): number {
  const members = findRunProcesses(runId);
  killMembers(members);
  return members.length;
}

/** Kill the live processes carrying the group's tag (outside its group); true if there were any. */
function killTagged(group: SpawnedGroup): boolean {
  if (!group.tag) return false;
  const tagged = findTaggedProcesses(group.tag);
  killMembers(tagged);
  return tagged.length > 0;
}

function killMembers(members: readonly RunMember[]): void {
  for (const member of members) {
    try {
      if (member.pgrp === member.pid) process.kill(-member.pid, 'SIGKILL');
      process.kill(member.pid, 'SIGKILL');
    } catch {
      // gone meanwhile
    }
  }
}
