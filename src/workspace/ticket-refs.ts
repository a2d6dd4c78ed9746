/**
 * What a job needs to know about a ticket's refs, asked of git once and passed on: the base
 * branch's tip and the ticket branch's tip with its parents and `Loopwright-Run` trailer (one
 * `for-each-ref`), and where the branch forked from the base (`merge-base`, remembered per
 * process while the answer provably still holds).
 */
import { git, resolveCommit, runGit } from './git.js';

/** A branch's tip commit as `for-each-ref` described it. */
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

/** refname, type, object, peeled object (tags), parents, the run trailer: one record per ref. */
const FORMAT = [
  '%(refname)',
  '%(objecttype)',
  '%(objectname)',
  '%(*objectname)',
  '%(parent)',
  '%(trailers:key=Loopwright-Run,valueonly,unfold,separator=%x20)',
]
  .map((field) => `${field}%00`)
  .join('');

/**
 * Both tips in one `for-each-ref` (exact ref names; a tag on the base is peeled to its commit,
 * whose parents and trailer are then not known).
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
  const args = ['for-each-ref', `--format=${FORMAT}`, baseRef, branchRef];
  const { stdout } = await runGit(gitDir, args, { gitDir });
  const records = new Map<string, string[]>();
  for (const record of stdout.split('\0\n').filter((r) => r.length > 0)) {
    const parts = record.split('\0');
    if (parts.length !== 6) return slowTips(gitDir, baseRef, branchRef);
    records.set(parts[0]!, parts);
  }
  return { base: tipOf(records.get(baseRef)), branch: tipOf(records.get(branchRef)) };
}

function tipOf(record: readonly string[] | undefined): RefTip | null {
  if (!record) return null;
  if (record[1] === 'tag' && record[3]) return { commit: record[3], parents: [], run: null };
  if (record[1] !== 'commit') return null;
  const run = record[5]!.trim().split(' ')[0] ?? '';
  return {
    commit: record[2]!,
    parents: record[4]!.split(' ').filter(Boolean),
    run: RUN_ID.test(run) ? run : null,
  };
}

/** The same answer one question at a time (for a record that did not parse). */
async function slowTips(gitDir: string, baseRef: string, branchRef: string): Promise<TicketTips> {
  const one = async (ref: string): Promise<RefTip | null> => {
    const commit = await resolveCommit(gitDir, ref, { gitDir });
    if (!commit) return null;
    const text = await git(gitDir, ['cat-file', 'commit', commit], { gitDir });
    const header = text.slice(0, text.indexOf('\n\n'));
    const parents = [...header.matchAll(/^parent ([0-9a-f]+)$/gm)].map((m) => m[1]!);
    const match = /\nLoopwright-Run: ([0-9a-f-]{36})\n/.exec(text);
    return { commit, parents, run: match ? match[1]! : null };
  };
  return { base: await one(baseRef), branch: await one(branchRef) };
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
