/**
 * One git worktree per ticket, at `<root>/<repo-dir-name>/<ticketKey>` on branch
 * `loopwright/<ticketKey>`. Creation is idempotent (a retried job calls it again and gets the same
 * worktree back, with whatever work is already in it); removal tolerates what is already gone.
 */
import { readdir, stat } from 'node:fs/promises';
import path from 'node:path';
import { BadInputError } from '../errors.js';
import { logger } from '../log/logger.js';
import { WorkspaceError } from './errors.js';
import { git, resolveCommit, runGit } from './git.js';
import {
  LOOPWRIGHT_DIR,
  ensureLoopwrightExcluded,
  findWorktreeAt,
  listWorktrees,
  repoDirName,
} from './repository.js';

/** Prefix of every branch loopwright creates; the only branches it will ever delete. */
export const BRANCH_PREFIX = 'loopwright/';

/** Ticket keys become directory and branch names, so they are held to a safe alphabet. */
const TICKET_KEY = /^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$/;

/** Where and from what a ticket's worktree is made. */
export interface CreateWorktreeOptions {
  /** Any checkout of the repository (main checkout or a worktree). */
  readonly repoPath: string;
  /** Local branch the ticket starts from, e.g. `main`. */
  readonly baseBranch: string;
  readonly ticketKey: string;
  /** Folder that holds all of loopwright's worktrees. */
  readonly root: string;
}

/** A ticket's worktree. */
export interface Worktree {
  readonly path: string;
  /** Short branch name, `loopwright/<ticketKey>`. */
  readonly branch: string;
  /** Where the branch forked from the base: the ref gates diff against. */
  readonly baseCommit: string;
}

/** The branch name loopwright uses for a ticket. */
export function ticketBranch(ticketKey: string): string {
  assertTicketKey(ticketKey);
  return `${BRANCH_PREFIX}${ticketKey}`;
}

/**
 * Create the ticket's worktree, or return the existing one if it is already there and on its branch.
 * An existing branch (from an earlier attempt) is checked out as is, never reset; a worktree whose
 * folder vanished is pruned and recreated. Also makes sure `.loopwright/` is git-excluded.
 *
 * @throws WorkspaceError when the path holds something else or the worktree left its branch.
 * @example
 * ```ts
 * const wt = await createWorktree({ repoPath, baseBranch: 'main', ticketKey: 'LW-12', root });
 * // wt.path = <root>/api-1f3a9c2e/LW-12, wt.branch = 'loopwright/LW-12'
 * ```
 */
export async function createWorktree(options: CreateWorktreeOptions): Promise<Worktree> {
  const { repoPath, baseBranch, ticketKey, root } = options;
  const branch = ticketBranch(ticketKey);
  const baseRef = `refs/heads/${baseBranch}`;
  if (!(await resolveCommit(repoPath, baseRef)))
    throw new BadInputError(`unknown base branch ${baseBranch} in ${repoPath}`);
  const dir = path.join(path.resolve(root), await repoDirName(repoPath), ticketKey);
  await ensureLoopwrightExcluded(repoPath);

  const existing = await findWorktreeAt(repoPath, dir);
  if (existing && existing.prunable) {
    await git(repoPath, ['worktree', 'prune']);
  } else if (existing) {
    if (existing.branch !== `refs/heads/${branch}`) {
      throw new WorkspaceError(
        'WORKTREE_INVALID',
        `worktree ${dir} is on ${existing.branch ?? 'a detached HEAD'}, expected ${branch}`,
      );
    }
    return { path: dir, branch, baseCommit: await forkPoint(repoPath, baseRef, branch) };
  }
  await assertVacant(dir);
  const branchExists = (await resolveCommit(repoPath, `refs/heads/${branch}`)) !== null;
  const args = branchExists ? [dir, branch] : ['--no-track', '-b', branch, dir, baseRef];
  await git(repoPath, ['worktree', 'add', '--quiet', ...args]);
  logger().info(
    { repo: repoPath, ticket: ticketKey, path: dir, branch, resumed: branchExists },
    'Worktree created',
  );
  return { path: dir, branch, baseCommit: await forkPoint(repoPath, baseRef, branch) };
}

/** What {@link removeWorktree} did. */
export interface RemoveWorktreeResult {
  readonly worktreeRemoved: boolean;
  readonly branchDeleted: boolean;
}

/**
 * Remove a ticket's worktree (discarding anything uncommitted in it) and, when `deleteBranch` is
 * set, its `loopwright/` branch. Whatever is already gone is skipped, so it is safe to repeat.
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
      `refusing to delete branch ${branch ?? '(none given)'}: only ${BRANCH_PREFIX}* branches are loopwright's`,
    );
  }
  const existing = await findWorktreeAt(repoPath, options.path);
  let worktreeRemoved = false;
  if (existing && !existing.prunable) {
    // Twice --force: also removes a locked worktree (e.g. one left "initializing" by a crash).
    await git(repoPath, ['worktree', 'remove', '--force', '--force', existing.path]);
    worktreeRemoved = true;
  }
  await git(repoPath, ['worktree', 'prune']);
  let branchDeleted = false;
  const tip = deleteBranch && branch ? await resolveCommit(repoPath, `refs/heads/${branch}`) : null;
  if (branch && tip) {
    const holder = (await listWorktrees(repoPath)).find((w) => w.branch === `refs/heads/${branch}`);
    if (holder)
      throw new WorkspaceError(
        'WORKTREE_INVALID',
        `cannot delete branch ${branch}: it is checked out at ${holder.path}`,
      );
    // update-ref, not `git branch -D`: that rewrites .git/config (new inode) even for a branch with no
    // config, and .git/config is watched by the outside-write probe of every agent still running in
    // this repository, which would then fail for a write it did not make.
    await git(repoPath, ['update-ref', '-d', `refs/heads/${branch}`, tip]);
    branchDeleted = true;
  }
  return { worktreeRemoved, branchDeleted };
}

/**
 * Stage everything in the worktree except `.loopwright/` (and ignored files) and commit it as
 * loopwright. Returns the new commit's sha, or null when there was nothing to commit.
 *
 * @example
 * ```ts
 * const sha = await commitAll(wt.path, 'LW-12: RED tests');
 * ```
 */
export async function commitAll(worktreePath: string, message: string): Promise<string | null> {
  await git(worktreePath, ['add', '--all']);
  // info/exclude keeps untracked .loopwright/ out; this also drops edits to any tracked copy.
  await git(worktreePath, ['reset', '--quiet', '--', LOOPWRIGHT_DIR]);
  const staged = await runGit(worktreePath, ['diff', '--cached', '--quiet'], {
    okExitCodes: [0, 1],
  });
  if (staged.exitCode === 0) return null;
  await git(worktreePath, ['commit', '--quiet', '--no-verify', '-m', message]);
  return git(worktreePath, ['rev-parse', 'HEAD']);
}

/** The commit where `branch` left `baseRef` (the base tip itself for a fresh branch). */
async function forkPoint(repoPath: string, baseRef: string, branch: string): Promise<string> {
  return git(repoPath, ['merge-base', baseRef, `refs/heads/${branch}`]);
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

/** The worktree folder may be absent or empty, nothing else: never build on top of stray files. */
async function assertVacant(dir: string): Promise<void> {
  const info = await stat(dir).catch(() => null);
  if (!info) return;
  if (!info.isDirectory() || (await readdir(dir)).length > 0) {
    throw new WorkspaceError(
      'WORKTREE_PATH_OCCUPIED',
      `${dir} exists and is not this ticket's worktree`,
    );
  }
}
