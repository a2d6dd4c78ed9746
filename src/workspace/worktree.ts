/**
 * One workspace per ticket: its own git clone at `<root>/<repo-dir-name>/<ticketKey>`, never a
 * worktree of the registered repository. The clone borrows the repository's objects through
 * `alternates` (read-only in the sandbox) and has its own refs, config, index and HEAD on
 * `loopwright/<ticketKey>`; its `.git` is the orchestrator's (see workspace-integrity.ts). The
 * repository's branch `loopwright/<ticketKey>` is the ticket's truth, and only the orchestrator
 * moves it: it commits the workspace's files itself (stage-commit.ts) and moves the branch by
 * compare-and-swap. Creation is idempotent; a tampered clone is re-created.
 */
import { mkdirSync } from 'node:fs';
import { lstat, readdir, rm } from 'node:fs/promises';
import path from 'node:path';
import { BadInputError } from '../errors.js';
import { logger } from '../log/logger.js';
import { WorkspaceError } from './errors.js';
import { git, runGit } from './git.js';
import { holdsExactly, pointCloneAt, writeCloneFiles } from './clone-files.js';
import type { TreeEntry } from './git-objects.js';
import { algorithmOf } from './object-writer.js';
import { objectStore } from './object-store.js';
import { moveRefs } from './ref-writer.js';
import { commonGitDir, knownWorktrees, repoDirName } from './repository.js';
import { forkPoint, readTicketTips, type RefTip } from './ticket-refs.js';
import { initWorkspaceGit, workspaceGitProblems } from './workspace-integrity.js';

/** Prefix of every branch loopwright creates; the only branches it will ever delete. */
export const BRANCH_PREFIX = 'loopwright/';

/** Ticket keys become directory and branch names, so they are held to a safe alphabet. */
const TICKET_KEY = /^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$/;

/** Where and from what a ticket's workspace is made. */
export interface CreateWorktreeOptions {
  /** Any checkout of the repository (main checkout or a worktree). */
  readonly repoPath: string;
  /** Local branch the ticket starts from, e.g. `main`. */
  readonly baseBranch: string;
  readonly ticketKey: string;
  /** Folder that holds all of loopwright's workspaces. */
  readonly root: string;
}

/** A ticket's workspace (a clone). */
export interface Worktree {
  readonly path: string;
  /** Short branch name, `loopwright/<ticketKey>`, in the repository and in the clone. */
  readonly branch: string;
  /** Where the branch forked from the base: the ref gates diff against. */
  readonly baseCommit: string;
  /** The registered repository's common git dir: objects and the ticket branch live here. */
  readonly repoGitDir: string;
}

/** The branch name loopwright uses for a ticket. */
export function ticketBranch(ticketKey: string): string {
  assertTicketKey(ticketKey);
  return `${BRANCH_PREFIX}${ticketKey}`;
}

/** A workspace opened for a job, with what git said about its refs then (not asked again). */
export interface OpenedWorkspace {
  readonly wt: Worktree;
  /** The base branch's tip. */
  readonly baseTip: string;
  /** The ticket branch's tip in the repository, with its parents and run trailer. */
  readonly tip: RefTip;
  /** The clone was made just now: it already holds the tip, a reset would change nothing. */
  readonly cloned: boolean;
}

/**
 * Create the ticket's workspace, or return the existing one when its `.git` is intact. The
 * repository's ticket branch is created from the base on first use and never reset; a clone whose
 * `.git` was tampered with is removed and cloned again (nothing is lost: work lives in the branch).
 *
 * @throws WorkspaceError when the path holds something that is not a workspace.
 * @example
 * ```ts
 * const wt = await createWorktree({ repoPath, baseBranch: 'main', ticketKey: 'LW-12', root });
 * // wt.path = <root>/api-1f3a9c2e/LW-12, wt.branch = 'loopwright/LW-12'
 * ```
 */
export async function createWorktree(options: CreateWorktreeOptions): Promise<Worktree> {
  return (await openWorkspace(options)).wt;
}

/**
 * {@link createWorktree}, also returning the tips it read (from the object store) so that the
 * job does not read them again.
 *
 * @example
 * ```ts
 * const { wt, tip, baseTip } = await openWorkspace({ repoPath, baseBranch, ticketKey, root });
 * ```
 */
export async function openWorkspace(options: CreateWorktreeOptions): Promise<OpenedWorkspace> {
  const { repoPath, baseBranch, ticketKey, root } = options;
  const branch = ticketBranch(ticketKey);
  const repoGitDir = await commonGitDir(repoPath);
  const refs = [`refs/heads/${baseBranch}`, `refs/heads/${branch}`] as const;
  let tips = await readTicketTips(repoGitDir, ...refs);
  const base = tips.base;
  if (!base) throw new BadInputError(`unknown base branch ${baseBranch} in ${repoPath}`);
  const dir = path.join(path.resolve(root), await repoDirName(repoPath), ticketKey);
  const resumed = tips.branch !== null;
  if (!tips.branch) {
    // Create-only (old value must be absent): two racing creators agree on one branch.
    const created = await moveRefs(repoGitDir, [
      { ref: refs[1], next: base.commit, expected: null },
    ]);
    tips = created.ok ? { base, branch: base } : await readTicketTips(repoGitDir, ...refs);
  }
  const tip = tips.branch;
  if (!tip) throw new WorkspaceError('WORKTREE_INVALID', `branch ${branch} is gone`);
  const fork = await forkPoint(repoGitDir, branch, base.commit, tip.commit, tip.parents);
  const wt: Worktree = { path: dir, branch, baseCommit: fork, repoGitDir };
  const opened = { wt, baseTip: base.commit, tip };
  const state = await workspaceState(wt);
  if (state === 'intact') return { ...opened, cloned: false };
  if (state === 'tampered') {
    logger().warn({ ticket: ticketKey, path: dir }, 'Workspace git dir tampered; re-cloning');
    await rm(dir, { recursive: true, force: true });
  }
  await cloneInto(wt, tip.commit);
  logger().info({ ticket: ticketKey, repoPath, path: dir, branch, resumed }, 'Workspace created');
  return { ...opened, cloned: true };
}

/**
 * Problems with the workspace's `.git` (empty when it is exactly as the orchestrator made it).
 *
 * @example
 * ```ts
 * const problems = await workspaceTampering(wt); // ['.git/config was changed']
 * ```
 */
export async function workspaceTampering(wt: Worktree): Promise<string[]> {
  return workspaceGitProblems(wt.path, {
    objectsDir: path.join(wt.repoGitDir, 'objects'),
    headRef: `refs/heads/${wt.branch}`,
  });
}

/**
 * Bring the workspace back to the ticket branch's tip in the repository (or `tip`, when the caller
 * has just read it): tracked files as committed, untracked files removed (ignored ones and
 * `.loopwright/` stay), the clone's branch and index at the tip. A tampered clone is re-created
 * instead. When the files already are exactly the tip's (checked in-process, see
 * clone-files.ts), only the clone's branch and index are written; otherwise git resets.
 */
export async function resetWorkspace(
  wt: Worktree,
  tip?: string,
  options?: {
    /**
     * The caller found the clone's `.git` intact just now (openWorkspace), with nothing run in
     * the workspace since: not checked again.
     */
    readonly checkedIntact?: boolean;
  },
): Promise<void> {
  const target = tip ?? (await branchTip(wt));
  if (!options?.checkedIntact && (await workspaceState(wt)) !== 'intact') {
    await rm(wt.path, { recursive: true, force: true });
    await cloneInto(wt, target);
    return;
  }
  if (await resetInProcess(wt, target)) return;
  const opts = cloneGit(wt);
  await rm(path.join(wt.path, '.git', 'index'), { force: true });
  // HEAD is the symbolic ref to the ticket branch (checked above): the reset moves the branch too.
  await git(wt.path, ['reset', '--hard', '-q', target], opts);
  await git(wt.path, ['clean', '-fdq'], opts);
}

/** The reset without git when no file needs to change; false when git must do it. */
async function resetInProcess(wt: Worktree, target: string): Promise<boolean> {
  const tree = await objectStore(wt.repoGitDir)
    .listTree(target)
    .catch(() => null);
  if (!tree || !(await holdsExactly(wt.path, tree, algorithmOf(target)))) return false;
  return pointCloneAt(path.join(wt.path, '.git'), `refs/heads/${wt.branch}`, target, tree);
}

/** The repository's ticket branch tip (the orchestrator's truth, never the clone's). */
export async function branchTip(wt: Worktree): Promise<string> {
  const tip = await objectStore(wt.repoGitDir).resolve(`refs/heads/${wt.branch}^{commit}`);
  if (!tip) throw new WorkspaceError('WORKTREE_INVALID', `branch ${wt.branch} is gone`);
  return tip;
}

/** What {@link removeWorktree} did. */
export interface RemoveWorktreeResult {
  readonly worktreeRemoved: boolean;
  readonly branchDeleted: boolean;
}

/**
 * Remove a ticket's workspace (discarding anything uncommitted in it) and, when `deleteBranch` is
 * set, the repository's `loopwright/` branch. Whatever is already gone is skipped.
 *
 * @example
 * ```ts
 * await removeWorktree({ repoPath, path: wt.path, branch: wt.branch, deleteBranch: true });
 * ```
 */
export async function removeWorktree(options: {
  readonly repoPath: string;
  readonly path: string;
  readonly branch?: string;
  readonly deleteBranch?: boolean;
}): Promise<RemoveWorktreeResult> {
  const { repoPath, branch, deleteBranch = false } = options;
  if (deleteBranch && !branch?.startsWith(BRANCH_PREFIX)) {
    throw new BadInputError(
      `refusing to delete branch ${branch ?? '(none given)'}: only ${BRANCH_PREFIX}* branches ` +
        `are loopwright's`,
    );
  }
  const worktreeRemoved = (await lstat(options.path).catch(() => null)) !== null;
  await rm(options.path, { recursive: true, force: true });
  const branchDeleted = deleteBranch && branch ? await deleteTicketBranch(repoPath, branch) : false;
  return { worktreeRemoved, branchDeleted };
}

/**
 * Delete a `loopwright/` branch of the repository; false when it is already gone or (with
 * `onlyIfMergedInto`) when its tip is not contained in that branch, so no unmerged work is lost.
 * With `dryRun`, only says whether it would delete.
 *
 * @throws WorkspaceError when the branch is checked out in one of the repository's worktrees.
 * @example
 * ```ts
 * await deleteTicketBranch(repoPath, 'loopwright/app-3', { onlyIfMergedInto: 'main' });
 * ```
 */
export async function deleteTicketBranch(
  repoPath: string,
  branch: string,
  options: { readonly onlyIfMergedInto?: string; readonly dryRun?: boolean } = {},
): Promise<boolean> {
  if (!branch.startsWith(BRANCH_PREFIX))
    throw new BadInputError(
      `refusing to delete ${branch}: only ${BRANCH_PREFIX}* are loopwright's`,
    );
  const repoGitDir = await commonGitDir(repoPath);
  const opts = { gitDir: repoGitDir };
  const tip = await objectStore(repoGitDir).resolve(`refs/heads/${branch}^{commit}`);
  if (!tip) return false;
  if (options.onlyIfMergedInto) {
    const base = `refs/heads/${options.onlyIfMergedInto}`;
    const merged = await runGit(repoGitDir, ['merge-base', '--is-ancestor', tip, base], {
      ...opts,
      okExitCodes: [0, 1, 128],
    });
    if (merged.exitCode !== 0) return false;
  }
  const holder = (await knownWorktrees(repoPath)).find((w) => w.branch === `refs/heads/${branch}`);
  if (holder)
    throw new WorkspaceError(
      'WORKTREE_INVALID',
      `cannot delete branch ${branch}: it is checked out at ${holder.path}`,
    );
  if (options.dryRun) return true;
  // update-ref, not `git branch -D`: that rewrites .git/config (new inode) even for a branch with
  // no config, and the outside-write probe of every running agent watches .git/config. The old
  // value makes it a compare-and-swap: a branch that moved meanwhile is kept.
  const deleted = await moveRefs(repoGitDir, [
    { ref: `refs/heads/${branch}`, next: null, expected: tip },
  ]);
  return deleted.ok;
}

type WorkspaceState = 'absent' | 'intact' | 'tampered';

async function workspaceState(wt: Worktree): Promise<WorkspaceState> {
  const info = await lstat(wt.path).catch(() => null);
  if (!info) return 'absent';
  if (!info.isDirectory())
    throw new WorkspaceError('WORKTREE_PATH_OCCUPIED', `${wt.path} exists and is not a workspace`);
  const entries = await readdir(wt.path);
  if (entries.length === 0) return 'absent';
  if (!entries.includes('.git'))
    throw new WorkspaceError(
      'WORKTREE_PATH_OCCUPIED',
      `${wt.path} exists and is not this ticket's workspace`,
    );
  return (await workspaceTampering(wt)).length === 0 ? 'intact' : 'tampered';
}

/**
 * After a commit of the workspace's files: the clone's branch and index at `commit` (its files
 * already match; `tree` is the commit's listing when the caller has it). Nothing when the clone is
 * not intact: the next reset re-creates it.
 */
export async function refreshCloneTo(
  wt: Worktree,
  commit: string,
  tree?: ReadonlyMap<string, TreeEntry>,
): Promise<void> {
  if ((await workspaceState(wt)) !== 'intact') return;
  const listing = tree ?? (await objectStore(wt.repoGitDir).listTree(commit));
  const ref = `refs/heads/${wt.branch}`;
  if (listing && (await pointCloneAt(path.join(wt.path, '.git'), ref, commit, listing))) return;
  await rm(path.join(wt.path, '.git', 'index'), { force: true });
  // A mixed reset from no index: branch moved, index read from the commit, files left alone.
  await git(wt.path, ['reset', '-q', '--no-refresh', commit], cloneGit(wt));
}

/** Run git with the clone's own git dir, named explicitly (call only when it is intact). */
function cloneGit(wt: Worktree) {
  return { gitDir: path.join(wt.path, '.git'), workTree: wt.path };
}

/**
 * A fresh clone: its `.git` written directly (what `git init` would make, minus templates and
 * hooks, plus the fixed parts of workspace-integrity.ts), then the tip's files, index and branch
 * (written in-process, or by one `reset --hard` to the tip).
 */
async function cloneInto(wt: Worktree, tip: string): Promise<void> {
  const gitDir = path.join(wt.path, '.git');
  for (const dir of ['objects/pack', 'refs/heads', 'refs/tags'])
    mkdirSync(path.join(gitDir, dir), { recursive: true });
  await initWorkspaceGit(gitDir, {
    objectsDir: path.join(wt.repoGitDir, 'objects'),
    headRef: `refs/heads/${wt.branch}`,
  });
  // The files from the object store when it can (a small tree), else git's checkout.
  const ref = `refs/heads/${wt.branch}`;
  mkdirSync(path.dirname(path.join(gitDir, ...ref.split('/'))), { recursive: true });
  const store = objectStore(wt.repoGitDir);
  const tree = await store.listTree(tip).catch(() => null);
  if (tree && (await writeCloneFiles(wt.path, store, tree).catch(() => false)))
    if (await pointCloneAt(gitDir, ref, tip, tree)) return;
  await git(wt.path, ['reset', '--hard', '-q', tip], cloneGit(wt));
}

function assertTicketKey(ticketKey: string): void {
  if (
    !TICKET_KEY.test(ticketKey) ||
    ticketKey.includes('..') ||
    ticketKey.endsWith('.lock') ||
    ticketKey.endsWith('.')
  ) {
    throw new BadInputError(
      `invalid ticket key for a branch/folder name: ${JSON.stringify(ticketKey)}`,
    );
  }
}
