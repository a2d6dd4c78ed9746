/**
 * The scope gate: a Generator may only change the files its frozen plan allows.
 *
 * Rules (strict; "when in doubt, FAIL"):
 * 1. Every allowed glob must pass `checkGlob` (no absolute paths, no `..`); one refused glob fails
 *    the gate, even if every change matches another glob.
 * 2. Every changed path (see `changedPaths`: committed, staged, unstaged, untracked, deletions
 *    included) must match an allowed glob. Nothing under `.git` may be touched.
 * 3. A changed symlink is allowed only if its own path is in scope AND it resolves (realpath, whole
 *    chain) to an existing file inside the worktree AND that target's path is in scope too. A
 *    symlink is a write capability on its target, so the target must be as allowed as the link.
 *    Dangling symlinks fail: their target could be created later anywhere.
 * 4. A changed file must resolve (realpath) inside the worktree, and a changed regular file must
 *    not be a hard link (`nlink > 1`): writing it would write a file outside the worktree.
 *
 * Writes that git cannot see (a `../escape.txt` lands outside the worktree) are the job of
 * `outsideWriteProbe`; run both and treat either failure as SCOPE_VIOLATION.
 */
import { lstat, realpath } from 'node:fs/promises';
import path from 'node:path';
import { changedPaths, type ChangedPath } from './changes.js';
import { gateResult, type ScopeGateResult, type Violation } from './gate-result.js';
import { checkGlob, globToRegExp } from './glob.js';

/**
 * Fail with SCOPE_VIOLATION unless every change since `baseRef` stays within `allowedGlobs`
 * (rules in the module doc).
 *
 * @example
 * ```ts
 * const result = await scopeGate(wt.path, wt.baseCommit, ['src/parser/**', 'test/parser/**']);
 * ```
 */
export async function scopeGate(
  worktree: string,
  baseRef: string,
  allowedGlobs: readonly string[],
): Promise<ScopeGateResult> {
  const changes = await changedPaths(worktree, baseRef);
  return gateResult('SCOPE_VIOLATION', await scopeViolations(worktree, changes, allowedGlobs));
}

/**
 * The scope rules applied to an already computed change list (shared with the test-files gate).
 */
export async function scopeViolations(
  worktree: string,
  changes: readonly ChangedPath[],
  allowedGlobs: readonly string[],
): Promise<Violation[]> {
  const { violations, inScope } = compileScope(allowedGlobs);
  const root = await realpath(worktree);
  for (const change of changes) {
    violations.push(...(await changeViolations(root, change, inScope)));
  }
  return violations;
}

/**
 * Rule 1 for both scope gates (this one and the commit's): a refused glob is a violation; the
 * rest become the `inScope` matcher.
 */
export function compileScope(allowedGlobs: readonly string[]): {
  violations: Violation[];
  inScope: (file: string) => boolean;
} {
  const violations: Violation[] = [];
  const patterns: RegExp[] = [];
  for (const glob of allowedGlobs) {
    const problem = checkGlob(glob);
    if (problem) violations.push({ path: glob, why: 'glob-refused', detail: problem });
    else patterns.push(globToRegExp(glob));
  }
  return { violations, inScope: (file) => patterns.some((pattern) => pattern.test(file)) };
}

async function changeViolations(
  root: string,
  change: ChangedPath,
  inScope: (file: string) => boolean,
): Promise<Violation[]> {
  const file = change.path;
  const segments = file.split('/');
  if (path.isAbsolute(file) || segments.includes('..') || segments.includes('.'))
    return [{ path: file, why: 'path-traversal' }];
  if (segments.includes('.git')) return [{ path: file, why: 'git-internals' }];
  const found: Violation[] = [];
  if (!inScope(file)) found.push({ path: file, why: 'out-of-scope', detail: change.status });
  if (change.status === 'deleted') return found;
  const absolute = path.join(root, file);
  const info = await lstat(absolute).catch(() => null);
  if (!info) return found; // vanished since the diff: nothing left to write through
  if (info.isSymbolicLink()) return [...found, ...(await symlinkViolations(root, file, inScope))];
  const real = await realpath(absolute).catch(() => null);
  if (!real || !isInside(root, real))
    found.push({ path: file, why: 'resolves-outside', detail: real ?? 'unresolvable' });
  if (info.isFile() && info.nlink > 1)
    found.push({ path: file, why: 'hardlink', detail: `${info.nlink} links` });
  return found;
}

/** Rule 3: the link's whole chain must end at an existing, in-worktree, in-scope path. */
async function symlinkViolations(
  root: string,
  file: string,
  inScope: (file: string) => boolean,
): Promise<Violation[]> {
  const real = await realpath(path.join(root, file)).catch(() => null);
  if (!real) return [{ path: file, why: 'symlink-dangling' }];
  if (!isInside(root, real)) return [{ path: file, why: 'symlink-target-outside', detail: real }];
  const target = path.relative(root, real).split(path.sep).join('/');
  if (target.split('/').includes('.git'))
    return [{ path: file, why: 'git-internals', detail: target }];
  if (!inScope(target)) return [{ path: file, why: 'symlink-target-out-of-scope', detail: target }];
  return [];
}

/** True when `candidate` is strictly below `root` (both already realpath'd). */
function isInside(root: string, candidate: string): boolean {
  const rel = path.relative(root, candidate);
  return rel !== '' && rel !== '..' && !rel.startsWith(`..${path.sep}`) && !path.isAbsolute(rel);
}
