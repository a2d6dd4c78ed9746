/**
 * The orchestrator's commits of a workspace's files: blob, tree and commit objects it writes
 * itself into the repository's store (object-writer.ts, no git process), so no filter, hook or
 * config of the workspace takes part, and put on the ticket branch by compare-and-swap. Only the
 * list of files is git's (`ls-files --others`, for .gitignore semantics), and not even that when
 * the files are exactly the parent's (clone-files.ts). Files that equal the parent's blobs are
 * recognized by their hash; only changed ones are written.
 */
import { type BigIntStats, readlinkSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { setImmediate } from 'node:timers/promises';
import os from 'node:os';
import path from 'node:path';
import type { TreeChange } from './commit-gates.js';
import type { Violation } from './gate-result.js';
import { GitError, runGit, splitNul } from './git.js';
import {
  algorithmOf,
  gitRefusesPath,
  objectId,
  writeCommit,
  writeObject,
  writeTree,
  type HashAlgorithm,
} from './object-writer.js';
import { ObjectStoreError, objectStore } from './object-store.js';
import { holdsExactly } from './clone-files.js';
import { STAT_SLICE, statOrNull } from './sync-stat.js';
import { readWalkedFile } from './untrusted-file.js';
import { hashingStarted, knownBlob, rememberBlob } from './known-blobs.js';
import { moveRefs } from './ref-writer.js';
import { LOOPWRIGHT_DIR } from './repository.js';
import { diffListings } from './tree-diff.js';
import { branchTip, refreshCloneTo, type Worktree } from './worktree.js';

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
  /** What differs from the parent (as `diff-tree --raw` would say), when this call computed it. */
  readonly changes?: readonly TreeChange[];
  /** The new commit's tree, path -> mode and blob, when this call computed it. */
  readonly tree?: ReadonlyMap<string, TreeEntry>;
}

/** One blob (or gitlink) of a tree. */
export interface TreeEntry {
  readonly mode: string;
  readonly sha: string;
}

/**
 * Commit the workspace's files as the orchestrator, on top of the repository's ticket branch (or
 * `parent`, when the caller has just checked the branch is there), without moving any ref: regular
 * files and symlinks (as links, never followed), `.gitignore`d files and `.loopwright/` left out,
 * no filter, hook or config of the workspace involved.
 *
 * @example
 * ```ts
 * const trailers = { runId, ticket: 'LW-12', phase: 'build' };
 * const staged = await stageCommit(wt, 'LW-12: build attempt 1', trailers, knownTip);
 * ```
 */
export async function stageCommit(
  wt: Worktree,
  message: string,
  trailers?: CommitTrailers,
  parent?: string,
): Promise<StagedCommit> {
  const base = parent ?? (await branchTip(wt));
  const algorithm = algorithmOf(base);
  const before = await listTree(wt.repoGitDir, base);
  // Files exactly the parent's (nothing else there, ignored or not): nothing to commit, no git.
  if (await holdsExactly(wt.path, before, algorithm))
    return { commit: null, parent: base, anomalies: [], changes: [], tree: before };
  // `ls-files --others` with an empty private index lists every file not ignored by a
  // .gitignore; the parent's own paths (tracked files that match a .gitignore too) are added.
  const tmp = await mkdtemp(path.join(os.tmpdir(), 'lw-index-'));
  const listed = await runGit(
    wt.path,
    [
      'ls-files',
      '-z',
      '--others',
      '--exclude-per-directory=.gitignore',
      `--exclude=/${LOOPWRIGHT_DIR}/`,
    ],
    { gitDir: wt.repoGitDir, workTree: wt.path, env: { GIT_INDEX_FILE: path.join(tmp, 'index') } },
  ).finally(() => rm(tmp, { recursive: true, force: true }));
  const gitlinks = new Set([...before].filter(([, e]) => e.mode === '160000').map(([p]) => p));
  const entries = await collectEntries(
    wt.path,
    [...before.keys(), ...splitNul(listed.stdout)],
    gitlinks,
  );
  const objectsDir = path.join(wt.repoGitDir, 'objects');
  const after = await nextTree(wt, before, entries, algorithm);
  const changes = diffListings(before, after);
  if (changes.length === 0)
    return { commit: null, parent: base, anomalies: entries.anomalies, changes, tree: after };
  const tree = await writeTree(objectsDir, after, algorithm);
  const body = trailers
    ? `${message}\n\nLoopwright-Run: ${trailers.runId}\nLoopwright-Ticket: ${trailers.ticket}\n` +
      `Loopwright-Phase: ${trailers.phase}\n`
    : `${message}\n`;
  const commit = await writeCommit(objectsDir, { tree, parents: [base], message: body }, algorithm);
  return { commit, parent: base, anomalies: entries.anomalies, changes, tree: after };
}

/**
 * Put a staged commit on the ticket branch: compare-and-swap in the repository (fails if the
 * branch moved), then the clone's branch and index follow (its files already match).
 */
export async function acceptCommit(wt: Worktree, staged: StagedCommit): Promise<void> {
  if (!staged.commit) return;
  const ref = `refs/heads/${wt.branch}`;
  const move = { ref, next: staged.commit, expected: staged.parent };
  const moved = await moveRefs(wt.repoGitDir, [move]);
  // A retried job accepting the commit it already put there: nothing to move in the repository.
  if (!moved.ok && (await branchTip(wt)) !== staged.commit)
    throw new GitError(['update-ref', ref, move.next, move.expected], wt.repoGitDir, 1, moved.why);
  await refreshCloneTo(wt, staged.commit, staged.tree);
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

/** A commit's tree, path -> mode and object (gitlinks included), from the object store. */
async function listTree(gitDir: string, commit: string): Promise<Map<string, TreeEntry>> {
  const tree = await objectStore(gitDir).listTree(commit);
  if (!tree) throw new ObjectStoreError('OBJECT_MISSING', `no commit ${commit} in ${gitDir}`);
  return tree;
}

/**
 * The tree the workspace's files make: the parent's entries, minus removals, with every file and
 * link as it is now. Blobs equal to the parent's are recognized by their hash; only the others
 * are written to the store, from the very bytes that were hashed (no filter involved).
 */
async function nextTree(
  wt: Worktree,
  before: ReadonlyMap<string, TreeEntry>,
  entries: { updates: readonly Update[]; removals: readonly string[] },
  algorithm: HashAlgorithm,
): Promise<Map<string, TreeEntry>> {
  const after = new Map(before);
  for (const removed of entries.removals) after.delete(removed);
  const objectsDir = path.join(wt.repoGitDir, 'objects');
  const started = hashingStarted();
  for (const u of entries.updates) {
    const old = before.get(u.path);
    const mode = u.kind === 'symlink' ? '120000' : u.mode!;
    // A file unchanged since this process hashed it (known-blobs.ts) and equal to the parent's
    // blob is not read again.
    if (old?.mode === mode && knownBlob(wt.path, u.path, u.info) === old.sha) continue;
    const bytes =
      u.kind === 'symlink'
        ? Buffer.from(u.target!)
        : await readWalkedFile(path.join(wt.path, u.path));
    const sha = objectId('blob', bytes, algorithm);
    rememberBlob(wt.path, u.path, u.info, sha, started);
    if (old?.mode === mode && old.sha === sha) continue;
    await writeObject(objectsDir, 'blob', bytes, algorithm);
    after.set(u.path, { mode, sha });
  }
  return after;
}

interface Update {
  readonly path: string;
  /** Its status when it was listed (before any read). */
  readonly info: BigIntStats;
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
  for (const [i, raw] of listed.entries()) {
    // Synchronous lstat (a thread-pool hop per file costs more than the call), in slices.
    if (i % STAT_SLICE === STAT_SLICE - 1) await setImmediate();
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
    if (gitRefusesPath(file, '100644')) {
      removals.push(file);
      anomalies.push({ path: file, why: 'git-internals', detail: 'a path git refuses' });
      continue;
    }
    if (!parentsAreDirs(root, file, realDirs)) {
      removals.push(file);
      continue;
    }
    const info = statOrNull(path.join(root, file));
    if (!info || info.isDirectory()) removals.push(file);
    else if (info.isSymbolicLink() && gitRefusesPath(file, '120000')) {
      removals.push(file);
      anomalies.push({ path: file, why: 'git-internals', detail: 'a symlinked .gitmodules' });
    } else if (info.isSymbolicLink())
      updates.push({
        path: file,
        info,
        kind: 'symlink',
        target: readlinkSync(path.join(root, file)),
      });
    else if (info.isFile()) {
      if (info.nlink > 1n)
        anomalies.push({ path: file, why: 'hardlink', detail: `${info.nlink} links` });
      const mode = info.mode & 0o111n ? '100755' : '100644';
      updates.push({ path: file, info, kind: 'file', mode });
    } else {
      removals.push(file);
      anomalies.push({ path: file, why: 'out-of-scope', detail: 'not a regular file or symlink' });
    }
  }
  return { updates, removals, anomalies };
}

/** True when every directory between the root and `file` is a real directory (no symlink). */
function parentsAreDirs(root: string, file: string, cache: Map<string, boolean>): boolean {
  const parts = file.split('/').slice(0, -1);
  let rel = '';
  for (const part of parts) {
    rel = rel ? `${rel}/${part}` : part;
    let ok = cache.get(rel);
    if (ok === undefined) {
      ok = statOrNull(path.join(root, rel))?.isDirectory() ?? false;
      cache.set(rel, ok);
    }
    if (!ok) return false;
  }
  return true;
}
