/**
 * One workspace per ticket: its own git clone at `<root>/<repo-dir-name>/<ticketKey>`, never a
 * worktree of the registered repository. The clone borrows the repository's objects through
 * `alternates` (read-only in the sandbox) and has its own refs, config, index and HEAD on
 * `loopwright/<ticketKey>`; its `.git` is the orchestrator's (see workspace-integrity.ts). The
 * repository's branch `loopwright/<ticketKey>` is the ticket's truth, and only the orchestrator
 * moves it: it commits the workspace's files itself (objects written straight into the
 * repository's store with `hash-object --no-filters`, a private index, `commit-tree`) and moves
 * the branch by compare-and-swap. Creation is idempotent; a tampered clone is re-created.
 */
import { lstat, mkdir, mkdtemp, readdir, readlink, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { BadInputError } from '../errors.js';
import { logger } from '../log/logger.js';
import { WorkspaceError } from './errors.js';
import type { Violation } from './gate-result.js';
import { git, resolveCommit, runGit, splitNul } from './git.js';
import { LOOPWRIGHT_DIR, commonGitDir, listWorktrees, repoDirName } from './repository.js';
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
  const { repoPath, baseBranch, ticketKey, root } = options;
  const branch = ticketBranch(ticketKey);
  const repoGitDir = await commonGitDir(repoPath);
  const baseRef = `refs/heads/${baseBranch}`;
  const baseTip = await resolveCommit(repoGitDir, baseRef, { gitDir: repoGitDir });
  if (!baseTip) throw new BadInputError(`unknown base branch ${baseBranch} in ${repoPath}`);
  const dir = path.join(path.resolve(root), await repoDirName(repoPath), ticketKey);
  let tip = await resolveCommit(repoGitDir, `refs/heads/${branch}`, { gitDir: repoGitDir });
  const resumed = tip !== null;
  if (!tip) {
    // Create-only (old value must be absent): two racing creators agree on one branch.
    await runGit(repoGitDir, ['update-ref', `refs/heads/${branch}`, baseTip, ''], {
      gitDir: repoGitDir,
      okExitCodes: [0, 128],
    });
    tip = (await resolveCommit(repoGitDir, `refs/heads/${branch}`, { gitDir: repoGitDir }))!;
  }
  const wt: Worktree = {
    path: dir,
    branch,
    baseCommit: await git(repoGitDir, ['merge-base', baseRef, tip], { gitDir: repoGitDir }),
    repoGitDir,
  };
  const state = await workspaceState(wt);
  if (state === 'intact') return wt;
  if (state === 'tampered') {
    logger().warn({ ticket: ticketKey, path: dir }, 'Workspace git dir tampered; re-cloning');
    await rm(dir, { recursive: true, force: true });
  }
  await cloneInto(wt, tip);
  logger().info({ ticket: ticketKey, repoPath, path: dir, branch, resumed }, 'Workspace created');
  return wt;
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
 * Bring the workspace back to the ticket branch's tip in the repository: tracked files as
 * committed, untracked files removed (ignored ones and `.loopwright/` stay), the clone's branch
 * and index at the tip. A tampered clone is re-created instead.
 */
export async function resetWorkspace(wt: Worktree): Promise<void> {
  const tip = await branchTip(wt);
  if ((await workspaceState(wt)) !== 'intact') {
    await rm(wt.path, { recursive: true, force: true });
    await cloneInto(wt, tip);
    return;
  }
  const opts = cloneGit(wt);
  await rm(path.join(wt.path, '.git', 'index'), { force: true });
  await git(wt.path, ['update-ref', `refs/heads/${wt.branch}`, tip], opts);
  await git(wt.path, ['reset', '--hard', '-q', tip], opts);
  await git(wt.path, ['clean', '-fdq'], opts);
}

/** The repository's ticket branch tip (the orchestrator's truth, never the clone's). */
export async function branchTip(wt: Worktree): Promise<string> {
  const tip = await resolveCommit(wt.repoGitDir, `refs/heads/${wt.branch}`, {
    gitDir: wt.repoGitDir,
  });
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
  const tip = await resolveCommit(repoGitDir, `refs/heads/${branch}`, opts);
  if (!tip) return false;
  if (options.onlyIfMergedInto) {
    const base = `refs/heads/${options.onlyIfMergedInto}`;
    const merged = await runGit(repoGitDir, ['merge-base', '--is-ancestor', tip, base], {
      ...opts,
      okExitCodes: [0, 1, 128],
    });
    if (merged.exitCode !== 0) return false;
  }
  const holder = (await listWorktrees(repoPath)).find((w) => w.branch === `refs/heads/${branch}`);
  if (holder)
    throw new WorkspaceError(
      'WORKTREE_INVALID',
      `cannot delete branch ${branch}: it is checked out at ${holder.path}`,
    );
  if (options.dryRun) return true;
  // update-ref, not `git branch -D`: that rewrites .git/config (new inode) even for a branch with
  // no config, and the outside-write probe of every running agent watches .git/config. The old
  // value makes it a compare-and-swap: a branch that moved meanwhile is kept.
  const deleted = await runGit(repoGitDir, ['update-ref', '-d', `refs/heads/${branch}`, tip], {
    ...opts,
    okExitCodes: [0, 1, 128],
  });
  return deleted.exitCode === 0;
}

/** Lines appended to the message of every commit the orchestrator makes for a run. */
export interface CommitTrailers {
  readonly runId: string;
  readonly ticket: string;
  readonly phase: string;
}

/** A commit of the workspace's files, made but not yet on the branch. */
export interface StagedCommit {
  /** The new commit, or null when the files equal the parent's tree. */
  readonly commit: string | null;
  readonly parent: string;
  /** Files that cannot be committed honestly: hard links, FIFOs, devices, nested repositories. */
  readonly anomalies: readonly Violation[];
}

/**
 * Commit the workspace's files as the orchestrator, on top of the repository's ticket branch,
 * without moving any ref: regular files and symlinks (as links, never followed), `.gitignore`d
 * files and `.loopwright/` left out, no filter, hook or config of the workspace involved.
 *
 * @example
 * ```ts
 * const trailers = { runId, ticket: 'LW-12', phase: 'build' };
 * const staged = await stageCommit(wt, 'LW-12: build attempt 1', trailers);
 * ```
 */
export async function stageCommit(
  wt: Worktree,
  message: string,
  trailers?: CommitTrailers,
): Promise<StagedCommit> {
  const parent = await branchTip(wt);
  const tmp = await mkdtemp(path.join(os.tmpdir(), 'lw-index-'));
  try {
    const opts = {
      gitDir: wt.repoGitDir,
      workTree: wt.path,
      env: { GIT_INDEX_FILE: path.join(tmp, 'index') },
    };
    await git(wt.path, ['read-tree', parent], opts);
    const listed = await runGit(
      wt.path,
      [
        'ls-files',
        '-z',
        '--cached',
        '--others',
        '--exclude-per-directory=.gitignore',
        `--exclude=/${LOOPWRIGHT_DIR}/`,
      ],
      opts,
    );
    const gitlinks = await gitlinkPaths(wt, parent);
    const entries = await collectEntries(wt.path, splitNul(listed.stdout), gitlinks);
    const regular = entries.updates.filter((u) => u.kind === 'file');
    const shas = regular.length
      ? await hashFiles(
          wt,
          regular.map((u) => u.path),
        )
      : [];
    const lines: string[] = entries.removals.map((p) => `0 ${'0'.repeat(40)}\t${p}`);
    for (const [i, u] of regular.entries()) lines.push(`${u.mode} ${shas[i]}\t${u.path}`);
    for (const link of entries.updates.filter((u) => u.kind === 'symlink')) {
      const sha = await git(wt.path, ['hash-object', '-w', '--stdin'], {
        gitDir: wt.repoGitDir,
        input: link.target!,
      });
      lines.push(`120000 ${sha}\t${link.path}`);
    }
    if (lines.length)
      await git(wt.path, ['update-index', '-z', '--index-info'], {
        ...opts,
        input: lines.map((l) => `${l}\0`).join(''),
      });
    const tree = await git(wt.path, ['write-tree'], opts);
    const parentTree = await git(wt.path, ['rev-parse', `${parent}^{tree}`], opts);
    if (tree === parentTree) return { commit: null, parent, anomalies: entries.anomalies };
    const body = trailers
      ? `${message}\n\nLoopwright-Run: ${trailers.runId}\n` +
        `Loopwright-Ticket: ${trailers.ticket}\nLoopwright-Phase: ${trailers.phase}\n`
      : `${message}\n`;
    const commit = await git(wt.path, ['commit-tree', tree, '-p', parent, '-F', '-'], {
      gitDir: wt.repoGitDir,
      input: body,
    });
    return { commit, parent, anomalies: entries.anomalies };
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
}

/**
 * Put a staged commit on the ticket branch: compare-and-swap in the repository (fails if the
 * branch moved), then the clone's branch and index follow (its files already match).
 */
export async function acceptCommit(wt: Worktree, staged: StagedCommit): Promise<void> {
  if (!staged.commit) return;
  // A retried job accepting the commit it already put there: nothing to move in the repository.
  if ((await branchTip(wt)) !== staged.commit)
    await git(
      wt.repoGitDir,
      ['update-ref', `refs/heads/${wt.branch}`, staged.commit, staged.parent],
      {
        gitDir: wt.repoGitDir,
      },
    );
  if ((await workspaceState(wt)) !== 'intact') return; // re-created at the next reset
  const opts = cloneGit(wt);
  await git(wt.path, ['update-ref', `refs/heads/${wt.branch}`, staged.commit], opts);
  await git(wt.path, ['read-tree', staged.commit], opts);
}

/**
 * Stage and accept in one step. Returns the new commit's sha, or null when there was nothing to
 * commit.
 *
 * @example
 * ```ts
 * const sha = await commitAll(wt, 'LW-12: RED tests');
 * ```
 */
export async function commitAll(
  wt: Worktree,
  message: string,
  trailers?: CommitTrailers,
): Promise<string | null> {
  const staged = await stageCommit(wt, message, trailers);
  await acceptCommit(wt, staged);
  return staged.commit;
}

/** The `Loopwright-Run` trailer of a commit, or null. */
export async function runIdOfCommit(wt: Worktree, commit: string): Promise<string | null> {
  const text = await git(wt.repoGitDir, ['cat-file', 'commit', commit], { gitDir: wt.repoGitDir });
  const match = /\nLoopwright-Run: ([0-9a-f-]{36})\n/.exec(text);
  return match ? match[1]! : null;
}

interface Update {
  readonly path: string;
  readonly kind: 'file' | 'symlink';
  readonly mode?: string;
  readonly target?: string;
}

/** Sort the listed paths into index updates, removals and anomalies, by lstat (never following). */
async function collectEntries(
  root: string,
  listed: readonly string[],
  gitlinks: ReadonlySet<string>,
): Promise<{ updates: Update[]; removals: string[]; anomalies: Violation[] }> {
  const updates: Update[] = [];
  const removals: string[] = [];
  const anomalies: Violation[] = [];
  const realDirs = new Map<string, boolean>();
  const seen = new Set<string>();
  for (const raw of listed) {
    const nested = raw.endsWith('/');
    const file = nested ? raw.slice(0, -1) : raw;
    if (seen.has(file)) continue;
    seen.add(file);
    if (file === LOOPWRIGHT_DIR || file.startsWith(`${LOOPWRIGHT_DIR}/`)) continue;
    if (nested) {
      if (!gitlinks.has(file))
        anomalies.push({ path: file, why: 'git-internals', detail: 'nested repository' });
      continue;
    }
    if (gitlinks.has(file)) continue;
    if (!(await parentsAreDirs(root, file, realDirs))) {
      removals.push(file);
      continue;
    }
    const info = await lstat(path.join(root, file)).catch(() => null);
    if (!info || info.isDirectory()) removals.push(file);
    else if (info.isSymbolicLink())
      updates.push({ path: file, kind: 'symlink', target: await readlink(path.join(root, file)) });
    else if (info.isFile()) {
      if (info.nlink > 1)
        anomalies.push({ path: file, why: 'hardlink', detail: `${info.nlink} links` });
      updates.push({ path: file, kind: 'file', mode: info.mode & 0o111 ? '100755' : '100644' });
    } else {
      removals.push(file);
      anomalies.push({ path: file, why: 'out-of-scope', detail: 'not a regular file or symlink' });
    }
  }
  return { updates, removals, anomalies };
}

/** True when every directory between the root and `file` is a real directory (no symlink). */
async function parentsAreDirs(
  root: string,
  file: string,
  cache: Map<string, boolean>,
): Promise<boolean> {
  const parts = file.split('/').slice(0, -1);
  let rel = '';
  for (const part of parts) {
    rel = rel ? `${rel}/${part}` : part;
    let ok = cache.get(rel);
    if (ok === undefined) {
      const info = await lstat(path.join(root, rel)).catch(() => null);
      ok = info?.isDirectory() ?? false;
      cache.set(rel, ok);
    }
    if (!ok) return false;
  }
  return true;
}

/** Blob ids of regular files, written into the repository's store without any filter. */
async function hashFiles(wt: Worktree, files: readonly string[]): Promise<string[]> {
  const plain = files.filter((f) => !f.includes('\n'));
  const out = new Map<string, string>();
  if (plain.length) {
    const shas = await git(wt.path, ['hash-object', '-w', '--no-filters', '--stdin-paths'], {
      gitDir: wt.repoGitDir,
      input: `${plain.map((f) => path.join(wt.path, f)).join('\n')}\n`,
    });
    for (const [i, sha] of shas.split('\n').entries()) out.set(plain[i]!, sha);
  }
  for (const odd of files.filter((f) => f.includes('\n'))) {
    out.set(
      odd,
      await git(wt.path, ['hash-object', '-w', '--no-filters', '--', path.join(wt.path, odd)], {
        gitDir: wt.repoGitDir,
      }),
    );
  }
  return files.map((f) => out.get(f)!);
}

/** Paths that are submodules (gitlinks) in `commit`: left as they are. */
async function gitlinkPaths(wt: Worktree, commit: string): Promise<Set<string>> {
  const out = await git(wt.repoGitDir, ['ls-tree', '-r', '-z', commit], { gitDir: wt.repoGitDir });
  const links = new Set<string>();
  for (const entry of splitNul(out))
    if (entry.startsWith('160000 ')) links.add(entry.split('\t')[1]!);
  return links;
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

/** Run git with the clone's own git dir, named explicitly (call only when it is intact). */
function cloneGit(wt: Worktree) {
  return { gitDir: path.join(wt.path, '.git'), workTree: wt.path };
}

async function cloneInto(wt: Worktree, tip: string): Promise<void> {
  await mkdir(wt.path, { recursive: true });
  const gitDir = path.join(wt.path, '.git');
  await git(wt.path, ['init', '-q', '--template=', wt.path], { gitDir });
  await rm(path.join(gitDir, 'hooks'), { recursive: true, force: true });
  await initWorkspaceGit(gitDir, {
    objectsDir: path.join(wt.repoGitDir, 'objects'),
    headRef: `refs/heads/${wt.branch}`,
  });
  const opts = cloneGit(wt);
  await git(wt.path, ['update-ref', `refs/heads/${wt.branch}`, tip], opts);
  await git(wt.path, ['reset', '--hard', '-q', tip], opts);
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
