/**
 * Local shipping: merge a ticket branch into its base branch without ever rewriting the base and
 * without touching a user's uncommitted work. The merge commit is built in a throw-away detached
 * worktree, the base ref is moved with compare-and-swap, and a clean checkout of the base is brought
 * along with `read-tree -m -u` (a dirty one is left exactly as it was).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { BadInputError } from '../errors.js';
import { logger } from '../log/logger.js';
import { GitError, git, resolveCommit, runGit, splitNul } from './git.js';
import { listWorktrees } from './repository.js';

/** What to merge where. */
export interface MergeToBaseOptions {
  readonly repoPath: string;
  /** Local branch to advance, e.g. `main`. */
  readonly baseBranch: string;
  /** Local branch to merge, e.g. `loopwright/LW-12`. */
  readonly branch: string;
  /** Message of the merge commit (unused for a fast-forward). */
  readonly message: string;
  /**
   * Fast-forward when the base is an ancestor of the branch (default true). False always records a
   * merge commit, so the base's first-parent history stays the mainline even when the ticket
   * branch had merged the base into itself.
   */
  readonly allowFastForward?: boolean;
  /** Rebuild-and-CAS attempts when the base keeps moving underneath (default 3). */
  readonly maxAttempts?: number;
}

/** Outcome of {@link mergeToBase}; failures leave the base branch untouched. */
export type MergeResult =
  | {
      readonly ok: true;
      /** The base tip after the call. */
      readonly commit: string;
      readonly fastForward: boolean;
      /** The branch was already contained in the base; nothing moved (a retried SHIP job). */
      readonly alreadyMerged: boolean;
      /** Worktree that has the base branch checked out, if any. */
      readonly checkoutPath: string | null;
      /** True when that worktree's index and files were brought up to the new tip. */
      readonly checkoutUpdated: boolean;
    }
  | { readonly ok: false; readonly reason: 'MERGE_CONFLICT'; readonly detail: readonly string[] }
  | { readonly ok: false; readonly reason: 'BASE_MOVED'; readonly detail: readonly string[] };

/**
 * Merge `branch` into `baseBranch`: fast-forward when the base is an ancestor of the branch, else a
 * `--no-ff` merge commit. Idempotent: an already merged branch returns `alreadyMerged: true`.
 *
 * @example
 * ```ts
 * const merged = await mergeToBase({ repoPath, baseBranch: 'main', branch: wt.branch, message: 'LW-12: parser' });
 * if (!merged.ok) escalate(merged.reason, merged.detail);
 * ```
 */
export async function mergeToBase(options: MergeToBaseOptions): Promise<MergeResult> {
  const { repoPath, baseBranch, branch, message } = options;
  const baseRef = `refs/heads/${baseBranch}`;
  if (branch === baseBranch) throw new BadInputError(`cannot merge ${branch} into itself`);
  const tip = await resolveCommit(repoPath, `refs/heads/${branch}`);
  if (!tip) throw new BadInputError(`unknown branch ${branch} in ${repoPath}`);
  const seen: string[] = [];
  for (let attempt = 0; attempt < (options.maxAttempts ?? 3); attempt++) {
    const old = await resolveCommit(repoPath, baseRef);
    if (!old) throw new BadInputError(`unknown base branch ${baseBranch} in ${repoPath}`);
    seen.push(old);
    if (await isAncestor(repoPath, tip, old)) {
      return {
        ok: true,
        commit: old,
        fastForward: true,
        alreadyMerged: true,
        checkoutPath: null,
        checkoutUpdated: false,
      };
    }
    const fastForward =
      options.allowFastForward !== false && (await isAncestor(repoPath, old, tip));
    const built = fastForward
      ? { commit: tip }
      : await buildMergeCommit(repoPath, old, tip, message);
    if ('conflicts' in built)
      return { ok: false, reason: 'MERGE_CONFLICT', detail: built.conflicts };
    const moved = await advanceRef({
      repoPath,
      ref: baseRef,
      newCommit: built.commit,
      expectedOld: old,
      reason: `loopwright: merge ${branch}`,
    });
    if (!moved.ok) {
      logger().info(
        { repo: repoPath, base: baseBranch, branch, expected: old, actual: moved.actual, attempt },
        'Base moved during merge',
      );
      continue;
    }
    const checkout = await updateCheckout(repoPath, baseRef, old, built.commit);
    return { ok: true, commit: built.commit, fastForward, alreadyMerged: false, ...checkout };
  }
  return { ok: false, reason: 'BASE_MOVED', detail: seen };
}

/**
 * Compare-and-swap a ref: set `ref` to `newCommit` only if it still points at `expectedOld`.
 * Returns `{ ok: false, actual }` when someone else moved it first.
 *
 * @example
 * ```ts
 * const moved = await advanceRef({ repoPath, ref: 'refs/heads/main', newCommit, expectedOld });
 * ```
 */
export async function advanceRef(options: {
  readonly repoPath: string;
  readonly ref: string;
  readonly newCommit: string;
  readonly expectedOld: string;
  readonly reason?: string;
}): Promise<{ readonly ok: true } | { readonly ok: false; readonly actual: string | null }> {
  const { repoPath, ref, newCommit, expectedOld } = options;
  const args = [
    'update-ref',
    '-m',
    options.reason ?? 'loopwright: advance',
    ref,
    newCommit,
    expectedOld,
  ];
  const result = await runGit(repoPath, args, { okExitCodes: [0, 1, 128] });
  if (result.exitCode === 0) return { ok: true };
  const actual = await resolveCommit(repoPath, ref);
  if (actual === expectedOld) throw new GitError(args, repoPath, result.exitCode, result.stderr);
  return { ok: false, actual };
}

/**
 * True when `commit` is reachable from `baseBranch` (the oracle's "merged" test). An unknown commit
 * is not merged; an unknown base branch is bad input.
 */
export async function isMergedInto(
  repoPath: string,
  commit: string,
  baseBranch: string,
): Promise<boolean> {
  const baseRef = `refs/heads/${baseBranch}`;
  if (!(await resolveCommit(repoPath, baseRef)))
    throw new BadInputError(`unknown base branch ${baseBranch} in ${repoPath}`);
  const sha = await resolveCommit(repoPath, commit);
  return sha !== null && isAncestor(repoPath, sha, baseRef);
}

async function isAncestor(
  repoPath: string,
  ancestor: string,
  descendant: string,
): Promise<boolean> {
  const result = await runGit(repoPath, ['merge-base', '--is-ancestor', ancestor, descendant], {
    okExitCodes: [0, 1],
  });
  return result.exitCode === 0;
}

/** Merge `tip` into `old` in a temporary detached worktree; the repository's refs are not touched. */
async function buildMergeCommit(
  repoPath: string,
  old: string,
  tip: string,
  message: string,
): Promise<{ commit: string } | { conflicts: string[] }> {
  const tmp = await mkdtemp(path.join(os.tmpdir(), 'loopwright-merge-'));
  const dir = path.join(tmp, 'merge');
  // LFS content is irrelevant to a merge of pointers and would mean a download.
  const env = { GIT_LFS_SKIP_SMUDGE: '1' };
  try {
    await git(repoPath, ['worktree', 'add', '--quiet', '--detach', dir, old], { env });
    const merge = await runGit(
      dir,
      [
        '-c',
        'rerere.enabled=false',
        'merge',
        '--quiet',
        '--no-ff',
        '--no-edit',
        '-m',
        message,
        tip,
      ],
      {
        okExitCodes: [0, 1],
        env,
      },
    );
    if (merge.exitCode === 0) return { commit: await git(dir, ['rev-parse', 'HEAD']) };
    const conflicts = splitNul(
      (await runGit(dir, ['diff', '--name-only', '--diff-filter=U', '-z'])).stdout,
    );
    if (conflicts.length === 0)
      throw new GitError(['merge', tip], dir, merge.exitCode, merge.stderr || merge.stdout);
    return { conflicts };
  } finally {
    await runGit(repoPath, ['worktree', 'remove', '--force', '--force', dir], {
      okExitCodes: [0, 128],
    });
    await rm(tmp, { recursive: true, force: true });
    await runGit(repoPath, ['worktree', 'prune'], { okExitCodes: [0, 128] });
  }
}

/**
 * If a worktree has the base checked out and its index and files still equal `old`, move them to
 * `next` (a two-tree `read-tree -m -u`, as `git checkout` does). Anything dirty is left alone.
 */
async function updateCheckout(
  repoPath: string,
  baseRef: string,
  old: string,
  next: string,
): Promise<{ checkoutPath: string | null; checkoutUpdated: boolean }> {
  const entry = (await listWorktrees(repoPath)).find(
    (w) => w.branch === baseRef && !w.bare && !w.prunable,
  );
  if (!entry) return { checkoutPath: null, checkoutUpdated: false };
  const dir = entry.path;
  await runGit(dir, ['update-index', '-q', '--refresh'], { okExitCodes: [0, 1] });
  const indexClean =
    (await runGit(dir, ['diff-index', '--cached', '--quiet', old, '--'], { okExitCodes: [0, 1] }))
      .exitCode === 0;
  const filesClean =
    (await runGit(dir, ['diff-files', '--quiet'], { okExitCodes: [0, 1] })).exitCode === 0;
  if (!indexClean || !filesClean) return { checkoutPath: dir, checkoutUpdated: false };
  // Fails (and changes nothing) if an untracked file is in the way.
  const read = await runGit(dir, ['read-tree', '-m', '-u', old, next], { okExitCodes: [0, 128] });
  return { checkoutPath: dir, checkoutUpdated: read.exitCode === 0 };
}
