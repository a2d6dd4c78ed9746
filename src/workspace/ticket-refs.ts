/**
 * What a job needs to know about a ticket's refs, asked once and passed on: the base branch's tip
 * and the ticket branch's tip with its parents and `Loopwright-Run` trailer (two pipelined reads
 * of the repository's object store, no process), and where the branch forked from the base
 * (`merge-base`, remembered per process while the answer provably still holds).
 */
import { git } from './git.js';
import { trailerValue } from './git-objects.js';
import { type ObjectStore, objectStore } from './object-store.js';

/** A branch's tip commit. */
export interface RefTip {
  readonly commit: string;
  /** The commit's parents (first parent first). */
  readonly parents: readonly string[];
  /** Its `Loopwright-Run` trailer: the run whose work it is, or null. */
  readonly run: string | null;
}

/** The base branch's and the ticket branch's tips (null: no such branch, or not a commit). */
export interface TicketTips {
  readonly base: RefTip | null;
  readonly branch: RefTip | null;
}

const RUN_ID = /^[0-9a-f-]{36}$/;

/**
 * Both tips, read together (full ref names; a tag is peeled to its commit).
 *
 * @example
 * ```ts
 * const tips = await readTicketTips(gitDir, 'refs/heads/main', 'refs/heads/loopwright/LW-1');
 * ```
 */
export async function readTicketTips(
  gitDir: string,
  baseRef: string,
  branchRef: string,
): Promise<TicketTips> {
  const store = objectStore(gitDir);
  const [base, branch] = await Promise.all([baseRef, branchRef].map((ref) => readTip(store, ref)));
  return { base: base ?? null, branch: branch ?? null };
}

/** The commit `ref` (any revision) names, as a tip: parents and run trailer. */
export async function readTip(store: ObjectStore, ref: string): Promise<RefTip | null> {
  const commit = await store.readCommit(ref);
  if (!commit) return null;
  const run = trailerValue(commit.message, 'Loopwright-Run')?.split(' ')[0] ?? '';
  return { commit: commit.sha, parents: commit.parents, run: RUN_ID.test(run) ? run : null };
}

/** The last fork point computed per ticket branch: (base tip, branch tip) -> merge-base. */
const FORK_POINTS = new Map<string, { baseTip: string; tip: string; forkPoint: string }>();

/**
 * `git merge-base baseTip tip`, remembered per process. A remembered answer is reused when the
 * base has not moved and the branch either has not moved or gained exactly one ordinary commit on
 * top of the remembered tip while that tip was not in the base, or was the base tip itself (then
 * the new commit cannot be in the base either, so the fork point is the same).
 *
 * @example
 * ```ts
 * const fork = await forkPoint(gitDir, 'loopwright/LW-1', baseTip, tip.commit, tip.parents);
 * ```
 */
export async function forkPoint(
  gitDir: string,
  branch: string,
  baseTip: string,
  tip: string,
  tipParents: readonly string[],
): Promise<string> {
  const known = FORK_POINTS.get(`${gitDir}\0${branch}`);
  let fork: string | undefined;
  if (tip === baseTip) fork = tip;
  else if (known?.baseTip === baseTip) {
    const onTop = tipParents.length === 1 && tipParents[0] === known.tip;
    // A commit whose parent is the base tip cannot be in the base (that would be a cycle).
    if (known.tip === tip) fork = known.forkPoint;
    else if (onTop && (known.forkPoint !== known.tip || known.tip === baseTip))
      fork = known.forkPoint;
  }
  fork ??= await git(gitDir, ['merge-base', baseTip, tip], { gitDir });
  rememberForkPoint(gitDir, branch, baseTip, tip, fork);
  return fork;
}

/** Record a fork point the caller knows (e.g. after merging the base into the branch). */
export function rememberForkPoint(
  gitDir: string,
  branch: string,
  baseTip: string,
  tip: string,
  fork: string,
): void {
  FORK_POINTS.set(`${gitDir}\0${branch}`, { baseTip, tip, forkPoint: fork });
}
