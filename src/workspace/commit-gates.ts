/**
 * Gates that judge a commit, not a directory: what changed between two commits (from objects,
 * as `diff-tree --raw` says it, modes included; tree-diff.ts), scope over those changes (globs,
 * `..`, `.git`, submodules, symlink blobs whose target leaves the tree or the scope), the planned
 * test files present as regular files, and RED's test files unchanged in a BUILD commit. Nothing
 * here reads the workspace's files, so an untracked or ignored file, or anything in
 * `.loopwright/`, cannot count. Objects are read through the repository's object store
 * (object-store.ts): no git process.
 */
import path from 'node:path';
import type { Violation } from './gate-result.js';
import type { TreeRecord } from './git-objects.js';
import { checkGlob } from './glob.js';
import { type ObjectStore, ObjectStoreError, objectStore } from './object-store.js';
import { compileScope } from './scope-gate.js';
import { diffTrees, type TreeChange } from './tree-diff.js';

export type { TreeChange } from './tree-diff.js';

/** Longer than any symlink target a file system takes (PATH_MAX is 4096 on Linux). */
const MAX_LINK_BYTES = 64 * 1024;

/**
 * Every path that differs between `from` and `to` in the repository at `gitDir`, renames split
 * into a deletion and an addition.
 *
 * @example
 * ```ts
 * const changes = await treeChanges(wt.repoGitDir, wt.baseCommit, commit);
 * ```
 */
export async function treeChanges(gitDir: string, from: string, to: string): Promise<TreeChange[]> {
  return diffTrees(objectStore(gitDir), from, to);
}

/**
 * Scope violations of committed changes: every path must match a glob, stay inside the tree and
 * out of `.git`; a submodule is refused; a symlink's target (read from its blob) must resolve,
 * lexically, to an in-scope path inside the tree.
 */
export async function commitScopeViolations(
  gitDir: string,
  changes: readonly TreeChange[],
  allowedGlobs: readonly string[],
): Promise<Violation[]> {
  const { violations, inScope } = compileScope(allowedGlobs);
  const store = objectStore(gitDir);
  for (const change of changes) {
    const file = change.path;
    const segments = file.split('/');
    if (path.isAbsolute(file) || segments.includes('..') || segments.includes('.')) {
      violations.push({ path: file, why: 'path-traversal' });
      continue;
    }
    if (segments.some((s) => s.toLowerCase() === '.git')) {
      violations.push({ path: file, why: 'git-internals' });
      continue;
    }
    if (!inScope(file)) violations.push({ path: file, why: 'out-of-scope', detail: change.status });
    if (change.status === 'deleted') continue;
    if (change.mode === '160000') violations.push({ path: file, why: 'submodule' });
    if (change.mode === '120000') {
      const target = await linkTarget(store, change.sha);
      violations.push(...symlinkViolations(file, target, inScope));
    }
  }
  return violations;
}

/** A symlink blob's target; '' (dangling) when it is missing or longer than any real target. */
async function linkTarget(store: ObjectStore, sha: string): Promise<string> {
  try {
    const blob = await store.read(sha, { maxBytes: MAX_LINK_BYTES });
    return blob?.type === 'blob' ? blob.content.toString('utf8') : '';
  } catch (error) {
    if (error instanceof ObjectStoreError && error.code === 'OBJECT_TOO_LARGE') return '';
    throw error;
  }
}

function symlinkViolations(
  file: string,
  target: string,
  inScope: (file: string) => boolean,
): Violation[] {
  if (target === '' || target.includes('\0')) return [{ path: file, why: 'symlink-dangling' }];
  if (path.posix.isAbsolute(target))
    return [{ path: file, why: 'symlink-target-outside', detail: target }];
  const resolved = path.posix.normalize(path.posix.join(path.posix.dirname(file), target));
  if (resolved === '..' || resolved.startsWith('../') || resolved === '.')
    return [{ path: file, why: 'symlink-target-outside', detail: target }];
  if (resolved.split('/').some((s) => s.toLowerCase() === '.git'))
    return [{ path: file, why: 'git-internals', detail: target }];
  if (!inScope(resolved))
    return [{ path: file, why: 'symlink-target-out-of-scope', detail: resolved }];
  return [];
}

/**
 * Planned test files (exact paths, no globs) that are not regular files in `commit` (looked up in
 * `tree`, the commit's listing, when the caller has it; else in the directories' trees, read from
 * the object store).
 */
export async function missingTestFiles(
  gitDir: string,
  commit: string,
  planned: readonly string[],
  tree?: ReadonlyMap<string, { readonly mode: string }>,
): Promise<Violation[]> {
  const modes = tree ?? (await entriesAt(gitDir, commit, planned));
  return planned
    .filter((file) => {
      const mode = modes.get(file)?.mode;
      return checkGlob(file) !== null || (mode !== '100644' && mode !== '100755');
    })
    .map((file) => ({ path: file, why: 'missing-planned-test' as const }));
}

/**
 * The RED commit's test files: what RED added or changed (its diff from its parent). These are
 * the acceptance tests BUILD may not touch.
 */
export async function redTestFiles(gitDir: string, redCommit: string): Promise<string[]> {
  const changes = await treeChanges(gitDir, `${redCommit}^`, redCommit);
  return changes.filter((c) => c.status !== 'deleted').map((c) => c.path);
}

/**
 * RED test files that `commit` modified or deleted relative to `redCommit` (blob and mode
 * compared), as TESTS_CHANGED violations.
 */
export async function changedRedTests(
  gitDir: string,
  redCommit: string,
  commit: string,
): Promise<Violation[]> {
  const files = await redTestFiles(gitDir, redCommit);
  if (files.length === 0) return [];
  const before = await entriesAt(gitDir, redCommit, files);
  const after = await entriesAt(gitDir, commit, files);
  const violations: Violation[] = [];
  for (const file of files) {
    const now = after.get(file);
    const then = before.get(file);
    if (!now) violations.push({ path: file, why: 'red-test-deleted' });
    else if (now.mode !== then?.mode || now.sha !== then.sha)
      violations.push({ path: file, why: 'red-test-modified' });
  }
  return violations;
}

/**
 * The entries of `files` in `commit`, as `ls-tree <commit> -- <files>` with literal paths gives
 * them (a directory is its tree entry): the tree of each file's directory read once. A path with
 * an empty, `.` or `..` segment names nothing.
 */
async function entriesAt(
  gitDir: string,
  commit: string,
  files: readonly string[],
): Promise<Map<string, { mode: string; sha: string }>> {
  const store = objectStore(gitDir);
  const dirs = new Map<string, Promise<TreeRecord[] | null>>();
  const wanted = files.filter((f) =>
    f.split('/').every((s) => s !== '' && s !== '.' && s !== '..'),
  );
  for (const file of wanted) {
    const dir = path.posix.dirname(file);
    if (dirs.has(dir)) continue;
    const read = store.readTree(dir === '.' ? `${commit}^{tree}` : `${commit}:${dir}`);
    read.catch(() => undefined); // awaited below, maybe after an earlier one threw
    dirs.set(dir, read);
  }
  const entries = new Map<string, { mode: string; sha: string }>();
  for (const file of wanted) {
    const records = await dirs.get(path.posix.dirname(file))!;
    const found = records?.find((r) => r.name === path.posix.basename(file));
    if (found) entries.set(file, { mode: found.mode, sha: found.sha });
  }
  return entries;
}
