/**
 * Work on the ticket branch that nobody judged. The orchestrator puts a run's commit on the branch
 * just before it journals the run's outcome; a process killed in between leaves the commit there
 * with no event. The same run's retried job finds its own commit on top and judges it (see
 * src/phases/agent-job.ts); a *fresh* run (the sweeper's REPLAY) would instead build on top of
 * it — a RED run then sees its tests already in the parent and "writes no tests". Such commits
 * are taken off the branch before the fresh run starts: its agent redoes the work, the gates
 * judge what it wrote.
 */
import { moveRefs } from './ref-writer.js';
import { objectStore } from './object-store.js';
import { GitError } from './git.js';
import { forkPoint, readTip, type RefTip } from './ticket-refs.js';
import type { OpenedWorkspace } from './worktree.js';

/** How far down the branch to look: a run's commit and the base merges made on top of it. */
const MAX_DEPTH = 16;

/**
 * The commits on top of the branch that belong to runs (their `Loopwright-Run` trailer) or are
 * the orchestrator's merges of the base (two parents, no trailer), tip first, down to the fork
 * point: the runs named among them are the ones {@link dropUnjudged} asks `judged` about.
 */
export async function runCommitsOnTop(opened: OpenedWorkspace): Promise<RefTip[]> {
  const store = objectStore(opened.wt.repoGitDir);
  const chain: RefTip[] = [];
  let at: RefTip | null = opened.tip;
  while (at && chain.length < MAX_DEPTH && at.commit !== opened.wt.baseCommit) {
    if (!at.run && at.parents.length !== 2) break;
    chain.push(at);
    const parent: string | undefined = at.parents[0];
    at = parent ? await readTip(store, parent) : null;
  }
  return chain;
}

/**
 * Move the branch below the deepest commit of a run `judged` does not contain, when it holds one
 * (compare-and-swap from the tip the job saw); returns the workspace as opened at the new tip (to
 * be reset: its files are the old tip's), or the same one when nothing was dropped.
 *
 * @example
 * ```ts
 * const chain = await runCommitsOnTop(opened);
 * const runs = chain.flatMap((c) => (c.run ? [c.run] : []));
 * const journaled = await runsWithEvents(db, ticketId, runs);
 * ({ opened } = await dropUnjudged(opened, chain, (run) => journaled.has(run)));
 * ```
 */
export async function dropUnjudged(
  opened: OpenedWorkspace,
  chain: readonly RefTip[],
  judged: (run: string) => boolean,
): Promise<{ opened: OpenedWorkspace; dropped: readonly string[] }> {
  let deepest = -1;
  for (let i = 0; i < chain.length; i++) {
    const run = chain[i]!.run;
    if (run === null) continue;
    if (judged(run)) break;
    deepest = i;
  }
  if (deepest < 0) return { opened, dropped: [] };
  const target = chain[deepest]!.parents[0]!;
  const { wt } = opened;
  const ref = `refs/heads/${wt.branch}`;
  const moved = await moveRefs(wt.repoGitDir, [{ ref, next: target, expected: opened.tip.commit }]);
  if (!moved.ok)
    throw new GitError(['update-ref', ref, target, opened.tip.commit], wt.repoGitDir, 1, moved.why);
  const tip = (await readTip(objectStore(wt.repoGitDir), target))!;
  const fork = await forkPoint(wt.repoGitDir, wt.branch, opened.baseTip, tip.commit, tip.parents);
  return {
    opened: { ...opened, tip, wt: { ...wt, baseCommit: fork }, cloned: false },
    dropped: chain.slice(0, deepest + 1).map((c) => c.commit),
  };
}
