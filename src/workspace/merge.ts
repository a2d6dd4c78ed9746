/**
 * Local shipping, bors-style: the base branch only ever points at a commit that was tested exactly
 * as it is. The merge commit is built from objects (`merge-tree --write-tree`, the commit object
 * written in-process; no checkout, no worktree), the caller's check (test command, live check)
 * runs on that exact commit, and only then is the base ref moved by compare-and-swap. A base
 * that moved meanwhile means a new merge on the new tip and a new check, until the merge
 * succeeds or really conflicts.
 *
 * The user's checkout of the base branch (main worktree or any other worktree) stays honest: a
 * clean one follows the ref (`read-tree -m -u old new`), a dirty one stops the merge before the
 * ref moves (`CHECKOUT_DIRTY`), so `git commit -a` there can never revert merged work.
 */
import { lstat } from 'node:fs/promises';
import path from 'node:path';
import { BadInputError } from '../errors.js';
import { logger } from '../log/logger.js';
import { walkIsAncestor } from './commit-walk.js';
import { GitError, git, resolveCommit, runGit, splitNul } from './git.js';
import { algorithmOf, writeCommit } from './object-writer.js';
import { objectStore } from './object-store.js';
import { moveRefs } from './ref-writer.js';
import { commonGitDir, knownWorktrees } from './repository.js';
import { diffTrees } from './tree-diff.js';

/** What a merge check said about a candidate merge commit. */
export type MergeCheck =
  | { readonly passed: true }
  | { readonly passed: false; readonly detail: string };

/** What to merge where, and how to judge the candidate. */
export interface MergeToBaseOptions {
  readonly repoPath: string;
  /** Local branch to advance, e.g. `main`. */
  readonly baseBranch: string;
  /** Commit or ref to merge (the ticket's tip), e.g. `refs/heads/loopwright/LW-12`. */
  readonly tip: string;
  /** Message of the merge commit. */
  readonly message: string;
  /**
   * Run on every candidate merge commit before the base moves (e.g. the test command and live
   * check in a scratch checkout). Default: no check.
   */
  readonly check?: (commit: string) => Promise<MergeCheck>;
}

/** Outcome of {@link mergeToBase}; every failure leaves the base branch untouched. */
export type MergeResult =
  | {
      readonly ok: true;
      /** The merge commit now on the base (for a retried call: the one made earlier). */
      readonly commit: string;
      /** The tip was already contained in the base; nothing moved (a retried SHIP job). */
      readonly alreadyMerged: boolean;
      /** Worktree that has the base branch checked out, if any. */
      readonly checkoutPath: string | null;
      /** True when that worktree's index and files were brought up to the new tip. */
      readonly checkoutUpdated: boolean;
      /** Merges built (more than 1 when the base moved underneath). */
      readonly attempts: number;
    }
  | { readonly ok: false; readonly reason: 'MERGE_CONFLICT'; readonly detail: readonly string[] }
  | {
      readonly ok: false;
      readonly reason: 'MERGE_CHECK_FAILED';
      /** The candidate merge commit that failed (never on the base). */
      readonly commit: string;
      readonly detail: string;
    }
  | {
      readonly ok: false;
      readonly reason: 'CHECKOUT_DIRTY';
      /** The user's worktree that has the base branch checked out. */
      readonly path: string;
      /** What is in the way: modified, staged or untracked paths. */
      readonly detail: readonly string[];
    };

/** Config for merges from objects: no attributes file or merge driver from outside the repo. */
const MERGE_ENV = { GIT_CONFIG_NOSYSTEM: '1', GIT_CONFIG_GLOBAL: '/dev/null' } as const;

/**
 * Merge `tip` into `baseBranch` with a merge commit (base as first parent), check it, then
 * compare-and-swap the base. Idempotent: a tip already in the base returns the earlier merge
 * commit with `alreadyMerged: true`.
 *
 * @example
 * ```ts
 * const message = 'Merge LW-12';
 * const merged = await mergeToBase({ repoPath, baseBranch: 'main', tip, message, check });
 * if (!merged.ok) escalate(merged.reason, merged.detail);
 * ```
 */
export async function mergeToBase(options: MergeToBaseOptions): Promise<MergeResult> {
  const { repoPath, baseBranch, message } = options;
  const baseRef = `refs/heads/${baseBranch}`;
  const store = objectStore(await commonGitDir(repoPath));
  const [tip, first] = await Promise.all(
    [options.tip, baseRef].map((rev) => store.resolve(`${rev}^{commit}`)),
  );
  if (!tip) throw new BadInputError(`unknown commit ${options.tip} in ${repoPath}`);
  for (let attempt = 1; ; attempt++) {
    const old = attempt === 1 ? first : await resolveCommit(repoPath, baseRef);
    if (!old) throw new BadInputError(`unknown base branch ${baseBranch} in ${repoPath}`);
    if (await isAncestor(repoPath, tip, old)) {
      const commit = await mergeCommitOf(repoPath, tip, old);
      const caughtUp = await catchUpCheckout(repoPath, baseRef, old, commit);
      return {
        ok: true,
        commit,
        alreadyMerged: true,
        ...caughtUp,
        attempts: attempt - 1,
      };
    }
    // The checkout's look and the merge are independent reads: both at once. A dirty checkout
    // wins (the merge commit built meanwhile is an unreferenced object, pruned by git's gc).
    const [dirty, built] = await Promise.all([
      baseCheckout(repoPath, baseRef).then((c) => checkoutBlocker(repoPath, c, old, null)),
      buildMergeCommit(repoPath, old, tip, message),
    ]);
    if (dirty) return dirty;
    if ('conflicts' in built)
      return { ok: false, reason: 'MERGE_CONFLICT', detail: built.conflicts };
    const verdict = options.check ? await options.check(built.commit) : ({ passed: true } as const);
    if (!verdict.passed) {
      // A failure on a base that has moved since says nothing: merge onto the new tip instead.
      const now = await resolveCommit(repoPath, baseRef);
      if (now !== old) {
        logBaseMoved(repoPath, baseBranch, old, now, attempt);
        continue;
      }
      return {
        ok: false,
        reason: 'MERGE_CHECK_FAILED',
        commit: built.commit,
        detail: verdict.detail,
      };
    }
    // A base that moved is found by the compare-and-swap below; the checkout is listed afresh.
    const checkout = await baseCheckout(repoPath, baseRef);
    const late = await checkoutBlocker(repoPath, checkout, old, built.commit);
    if (late) {
      // A checkout that moved on with the base is not dirty: merge onto the new tip.
      const now = await resolveCommit(repoPath, baseRef);
      if (now === old) return late;
      logBaseMoved(repoPath, baseBranch, old, now, attempt);
      continue;
    }
    const moved = await advanceRef({
      repoPath,
      ref: baseRef,
      newCommit: built.commit,
      expectedOld: old,
    });
    if (!moved.ok) {
      logBaseMoved(repoPath, baseBranch, old, moved.actual, attempt);
      continue;
    }
    const followed = await followCheckout(repoPath, checkout, old, built.commit);
    return { ok: true, commit: built.commit, alreadyMerged: false, ...followed, attempts: attempt };
  }
}

function logBaseMoved(
  repo: string,
  base: string,
  expected: string,
  actual: string | null,
  attempt: number,
): void {
  logger().info(
    { repoPath: repo, base, expected, actual, attempt },
    'Base moved during merge; merging again',
  );
}

/**
 * Compare-and-swap a ref: set `ref` to `newCommit` only if it still points at `expectedOld`, by
 * git's own ref locking through the repository's long-lived `update-ref --stdin` (ref-writer.ts,
 * no git process per move). Returns `{ ok: false, actual }` when someone else moved it first.
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
}): Promise<{ readonly ok: true } | { readonly ok: false; readonly actual: string | null }> {
  const { repoPath, ref, newCommit, expectedOld } = options;
  const moved = await moveRefs(await commonGitDir(repoPath), [
    { ref, next: newCommit, expected: expectedOld },
  ]);
  if (moved.ok) return { ok: true };
  const actual = await resolveCommit(repoPath, ref);
  if (actual === expectedOld)
    throw new GitError(['update-ref', ref, newCommit, expectedOld], repoPath, 1, moved.why);
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
  const store = objectStore(await commonGitDir(repoPath));
  if (!(await store.resolve(`${baseRef}^{commit}`)))
    throw new BadInputError(`unknown base branch ${baseBranch} in ${repoPath}`);
  const sha = await store.resolve(`${commit}^{commit}`);
  return sha !== null && isAncestor(repoPath, sha, baseRef);
}

/** `merge-base --is-ancestor`, walked in-process when the answer is near (commit-walk.ts). */
async function isAncestor(
  repoPath: string,
  ancestor: string,
  descendant: string,
): Promise<boolean> {
  const store = objectStore(await commonGitDir(repoPath));
  const [a, d] = await Promise.all(
    [ancestor, descendant].map((rev) => store.resolve(`${rev}^{commit}`)),
  );
  const near = a && d ? await walkIsAncestor(store, a, d) : null;
  if (near !== null) return near;
  const result = await runGit(repoPath, ['merge-base', '--is-ancestor', ancestor, descendant], {
    okExitCodes: [0, 1],
  });
  return result.exitCode === 0;
}

/**
 * The commit that brought `tip` into the base's first-parent history: the oldest first-parent
 * commit of `base` that descends from `tip` (`tip` itself when it is on that line).
 */
async function mergeCommitOf(repoPath: string, tip: string, base: string): Promise<string> {
  if (tip === base) return tip;
  const line = (
    await git(repoPath, ['rev-list', '--first-parent', '--ancestry-path', `${tip}..${base}`])
  )
    .split('\n')
    .filter((sha) => sha.length > 0);
  const oldest = line.at(-1);
  if (!oldest) return tip;
  const parents = (await git(repoPath, ['rev-list', '--parents', '-n', '1', oldest])).split(' ');
  return parents.slice(1).includes(tip) ? oldest : tip;
}

/**
 * Build the merge commit of `tip` into `old` from objects only: `merge-tree --write-tree` for the
 * tree (or the conflicting files), the commit written in-process with `old` as first parent. No
 * ref, index or working tree is touched.
 */
export async function buildMergeCommit(
  repoPath: string,
  old: string,
  tip: string,
  message: string,
): Promise<{ readonly commit: string } | { readonly conflicts: string[] }> {
  const merged = await runGit(
    repoPath,
    [
      '-c',
      'core.attributesFile=/dev/null',
      'merge-tree',
      '--write-tree',
      '--no-messages',
      '--name-only',
      '-z',
      old,
      tip,
    ],
    { okExitCodes: [0, 1], env: MERGE_ENV },
  );
  const [tree = '', ...files] = splitNul(merged.stdout);
  if (merged.exitCode === 1) {
    const conflicts = [...new Set(files)];
    if (conflicts.length === 0)
      throw new GitError(['merge-tree', old, tip], repoPath, 1, merged.stderr);
    return { conflicts };
  }
  const objectsDir = path.join(await commonGitDir(repoPath), 'objects');
  const fields = {
    tree,
    parents: [old, tip],
    message: message.endsWith('\n') ? message : `${message}\n`,
  };
  return { commit: await writeCommit(objectsDir, fields, algorithmOf(old)) };
}

/** The non-bare worktree that has `baseRef` checked out, if any. */
async function baseCheckout(repoPath: string, baseRef: string): Promise<{ path: string } | null> {
  const entry = (await knownWorktrees(repoPath)).find(
    (w) => w.branch === baseRef && !w.bare && !w.prunable,
  );
  return entry ? { path: entry.path } : null;
}

/**
 * Why the user's checkout of the base (`checkout`, from {@link baseCheckout}) must not be moved
 * from `old` (to `next`, when known): its index or tracked files differ from `old` (one
 * `diff-index` against the work tree covers both, see {@link changedInCheckout}), or (with
 * `next`) an untracked file is in the way. Null when there is no such checkout or it is clean.
 */
async function checkoutBlocker(
  repoPath: string,
  checkout: { path: string } | null,
  old: string,
  next: string | null,
): Promise<Extract<MergeResult, { reason: 'CHECKOUT_DIRTY' }> | null> {
  if (!checkout) return null;
  const dir = checkout.path;
  const dirty = await changedInCheckout(dir, old);
  if (dirty.length === 0 && next !== null && !(await nothingInTheWay(repoPath, dir, old, next))) {
    const dry = await runGit(dir, ['read-tree', '-m', '-u', '-n', old, next], {
      okExitCodes: [0, 128],
    });
    if (dry.exitCode !== 0) dirty.push(...untrackedInTheWay(dry.stderr));
  }
  return dirty.length === 0
    ? null
    : { ok: false, reason: 'CHECKOUT_DIRTY', path: dir, detail: dirty };
}

/**
 * Paths whose index entry or file differs from `old`. A file git only sees as touched (its stat
 * data changed, not its bytes) shows up in a plain `diff-index`; only then is the index refreshed
 * and asked again, so a clean checkout costs one git process.
 */
async function changedInCheckout(dir: string, old: string): Promise<string[]> {
  const ask = async () =>
    splitNul((await runGit(dir, ['diff-index', '--name-only', '-z', old, '--'])).stdout);
  let changed = await ask();
  if (changed.length > 0) {
    await runGit(dir, ['update-index', '-q', '--refresh'], { okExitCodes: [0, 1] });
    changed = await ask();
  }
  return [...new Set(changed)].sort();
}

/**
 * True when no path the merge adds (from `old` to `next`) is taken in the checkout `dir`: nothing
 * at the path, no file or link where a folder on its way must go. Then `read-tree -m -u` has no
 * untracked file to refuse and its dry run can be skipped; anything there (even a folder) asks
 * git.
 */
async function nothingInTheWay(
  repoPath: string,
  dir: string,
  old: string,
  next: string,
): Promise<boolean> {
  const store = objectStore(await commonGitDir(repoPath));
  const added = (await diffTrees(store, old, next).catch(() => null))?.filter(
    (c) => c.status === 'added',
  );
  if (!added || added.length > MAX_PATHS_CHECKED) return false;
  const folders = new Map<string, boolean>();
  for (const change of added) {
    const parts = change.path.split('/');
    for (let i = 1; i < parts.length; i++) {
      const folder = parts.slice(0, i).join('/');
      let ok = folders.get(folder);
      if (ok === undefined) {
        const info = await lstat(path.join(dir, folder)).catch(() => null);
        folders.set(folder, (ok = !info || info.isDirectory()));
      }
      if (!ok) return false;
    }
    if (await lstat(path.join(dir, change.path)).catch(() => null)) return false;
  }
  return true;
}

const MAX_PATHS_CHECKED = 2_000;

/** The paths `read-tree` names in "would be overwritten" errors (or a generic note). */
function untrackedInTheWay(stderr: string): string[] {
  const named = [...stderr.matchAll(/'([^']+)' would be overwritten/g)].map((m) => m[1]!);
  const listed = stderr
    .split('\n')
    .filter((line) => /^\t/.test(line))
    .map((line) => line.trim());
  const paths = [...new Set([...named, ...listed])];
  return paths.length > 0 ? paths : ['(untracked files in the way)'];
}

/**
 * A retried merge whose first attempt moved the base and died before the checkout followed: if the
 * base still points at that merge and the checkout still holds exactly the merge's first parent,
 * bring it along now (otherwise `git status` there would show the merge as staged reversions).
 */
async function catchUpCheckout(
  repoPath: string,
  baseRef: string,
  base: string,
  merge: string,
): Promise<{ checkoutPath: string | null; checkoutUpdated: boolean }> {
  const checkout = await baseCheckout(repoPath, baseRef);
  if (!checkout) return { checkoutPath: null, checkoutUpdated: false };
  const parent = base === merge ? await resolveCommit(repoPath, `${merge}^1`) : null;
  const behind =
    parent !== null &&
    (await checkoutBlocker(repoPath, checkout, parent, merge)) === null &&
    (await checkoutBlocker(repoPath, checkout, merge, null)) !== null;
  if (!behind) return { checkoutPath: checkout.path, checkoutUpdated: false };
  return followCheckout(repoPath, checkout, parent, merge);
}

/**
 * After the CAS: bring a clean checkout of the base from `old` to `next` (a two-tree
 * `read-tree -m -u`, as `git checkout` does). A failure here (the user edited a file in the
 * instant since the check) changes nothing in the checkout and is reported as not updated.
 */
async function followCheckout(
  repoPath: string,
  checkout: { path: string } | null,
  old: string,
  next: string,
): Promise<{ checkoutPath: string | null; checkoutUpdated: boolean }> {
  if (!checkout) return { checkoutPath: null, checkoutUpdated: false };
  const read = await runGit(checkout.path, ['read-tree', '-m', '-u', old, next], {
    okExitCodes: [0, 128],
  });
  if (read.exitCode !== 0)
    logger().warn(
      { repoPath, checkout: checkout.path, old, next, stderr: read.stderr.trim() },
      'Checkout of the base could not follow the merge',
    );
  return { checkoutPath: checkout.path, checkoutUpdated: read.exitCode === 0 };
}
