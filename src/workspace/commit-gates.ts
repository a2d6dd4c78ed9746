/**
 * Gates that judge a commit, not a directory: what changed between two commits (from objects,
 * `diff-tree --raw`, modes included), scope over those changes (globs, `..`, `.git`, submodules,
 * symlink blobs whose target leaves the tree or the scope), the planned test files present as
 * regular files, and RED's test files unchanged in a BUILD commit. Nothing here reads the
 * workspace's files, so an untracked or ignored file, or anything in `.loopwright/`, cannot count.
 */
import path from 'node:path';
import { type ChangeStatus, STATUS } from './changes.js';
import type { Violation } from './gate-result.js';
import { git, splitNul } from './git.js';
import { checkGlob } from './glob.js';
import { compileScope } from './scope-gate.js';

/** One path that differs between two commits. */
export interface TreeChange {
  readonly path: string;
  readonly status: ChangeStatus;
  /** Mode in the newer commit (`000000` when deleted). */
  readonly mode: string;
  /** Blob id in the newer commit (zeros when deleted). */
  readonly sha: string;
}

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
  const out = await git(gitDir, ['diff-tree', '-r', '-z', '--raw', '--no-renames', from, to], {
    gitDir,
  });
  const fields = splitNul(out);
  const changes: TreeChange[] = [];
  for (let i = 0; i + 1 < fields.length; i += 2) {
    // ":<old mode> <new mode> <old sha> <new sha> <status>"
    const [, newMode, , newSha, status] = fields[i]!.slice(1).split(' ');
    changes.push({
      path: fields[i + 1]!,
      status: STATUS[status!.charAt(0)] ?? 'modified',
      mode: newMode!,
      sha: newSha!,
    });
  }
  return changes;
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
      const target = await git(gitDir, ['cat-file', 'blob', change.sha], { gitDir });
      violations.push(...symlinkViolations(file, target, inScope));
    }
  }
  return violations;
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
 * `tree`, the commit's listing, when the caller has it; else one `ls-tree`).
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

/** The entries of `files` in `commit` (one `ls-tree`, paths taken literally). */
async function entriesAt(
  gitDir: string,
  commit: string,
  files: readonly string[],
): Promise<Map<string, { mode: string; sha: string }>> {
  const out = await git(gitDir, ['ls-tree', '-z', '--full-tree', commit, '--', ...files], {
    gitDir,
    env: { GIT_LITERAL_PATHSPECS: '1' },
  });
  const entries = new Map<string, { mode: string; sha: string }>();
  for (const line of splitNul(out)) {
    const tab = line.indexOf('\t');
    const [mode = '', , sha = ''] = line.slice(0, tab).split(' ');
    entries.set(line.slice(tab + 1), { mode, sha });
  }
  return entries;
}
