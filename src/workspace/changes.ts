/**
 * What changed in a worktree since a ref, the raw material of every diff-based gate: committed,
 * staged, unstaged and untracked changes together, minus `.gitignore`d files and `.loopwright/`.
 */
import { lstat } from 'node:fs/promises';
import path from 'node:path';
import { runGit, splitNul } from './git.js';
import { LOOPWRIGHT_DIR } from './repository.js';

/** How a path differs from the ref. */
export type ChangeStatus = 'added' | 'modified' | 'deleted' | 'typechange' | 'unmerged';

/** One changed path, relative to the worktree top, `/`-separated. */
export interface ChangedPath {
  readonly path: string;
  readonly status: ChangeStatus;
  /** The path is a symbolic link in the worktree now (false for deleted paths). */
  readonly symlink: boolean;
}

/** git's one-letter status codes (`--name-status`, `--raw`) as a {@link ChangeStatus}. */
export const STATUS: Readonly<Record<string, ChangeStatus>> = {
  A: 'added',
  M: 'modified',
  D: 'deleted',
  T: 'typechange',
  U: 'unmerged',
};

/**
 * Every path whose content in the worktree differs from `sinceRef`, including uncommitted and
 * untracked files (untracked files ignored by a `.gitignore` in the tree are left out). Renames are
 * reported as a deletion plus an addition, so both ends are checked.
 * Paths under `.loopwright/` are left out, but `.loopwright` itself shows up if it is replaced by
 * something that is not a directory (a symlink there would redirect handover writes).
 *
 * @example
 * ```ts
 * const changes = await changedPaths(wt.path, wt.baseCommit);
 * // [{ path: 'src/a.ts', status: 'modified', symlink: false }, ...]
 * ```
 */
export async function changedPaths(worktree: string, sinceRef: string): Promise<ChangedPath[]> {
  // Refresh stat info first: otherwise a touched-but-identical file can look modified.
  await runGit(worktree, ['update-index', '-q', '--refresh'], { okExitCodes: [0, 1] });
  const diff = await runGit(worktree, [
    'diff',
    '--name-status',
    '-z',
    '--no-renames',
    '--no-ext-diff',
    '--ignore-submodules=none',
    sinceRef,
    '--',
  ]);
  // Only the repository's own .gitignore files count, not info/exclude or core.excludesFile: those
  // live outside the tree, so an agent could hide a file there without the hiding being a change.
  const untracked = await runGit(worktree, [
    'ls-files',
    '--others',
    '--exclude-per-directory=.gitignore',
    '-z',
  ]);

  const byPath = new Map<string, ChangeStatus>();
  const fields = splitNul(diff.stdout);
  for (let i = 0; i + 1 < fields.length; i += 2) {
    const code = fields[i]!.charAt(0);
    byPath.set(fields[i + 1]!, STATUS[code] ?? 'modified');
  }
  for (const raw of splitNul(untracked.stdout)) {
    const file = raw.replace(/\/$/, ''); // a nested repository is listed as "dir/"
    // Deleted from the index but still on disk: it exists, so it is a modification, not a deletion.
    byPath.set(file, byPath.get(file) === 'deleted' ? 'modified' : (byPath.get(file) ?? 'added'));
  }

  const result: ChangedPath[] = [];
  for (const [file, status] of [...byPath].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
    if (file.startsWith(`${LOOPWRIGHT_DIR}/`)) continue;
    const symlink = status === 'deleted' ? false : await isSymlink(path.join(worktree, file));
    result.push({ path: file, status, symlink });
  }
  return result;
}

async function isSymlink(file: string): Promise<boolean> {
  const info = await lstat(file).catch(() => null);
  return info?.isSymbolicLink() ?? false;
}
