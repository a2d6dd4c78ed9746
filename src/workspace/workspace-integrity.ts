/**
 * A workspace's `.git` is the orchestrator's, not the agent's. In a sandbox it is bound read-only;
 * without one (mode `none`) the agent could write it, so before the orchestrator runs git with
 * the workspace's git dir it checks that everything which could make git run a program, read
 * another repository or see other objects is exactly as {@link initWorkspaceGit} wrote it: `.git`
 * is a real directory, `config`, `HEAD`, `info/` and `objects/info/alternates` hold the expected
 * bytes, `hooks/` is empty, and there is no `commondir`/`gitdir` redirect. Any difference is
 * tampering; the workspace is then re-created (its work lives in the repository's ticket branch).
 */
import { mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { statOrNull } from './sync-stat.js';

/** The only config a workspace clone has (no remotes, no filters, no includes, no hooks path). */
export const WORKSPACE_CONFIG =
  '[core]\n\trepositoryformatversion = 0\n\tfilemode = true\n\tbare = ' +
  'false\n\tlogallrefupdates = false\n';

/** The workspace's `info/exclude`: the handover folder is never part of the ticket's work. */
export const WORKSPACE_EXCLUDE = '/.loopwright/\n';

/** Entries `objects/info/` may hold besides `alternates` (written by git's own maintenance). */
const OBJECT_INFO_EXTRA = new Set(['packs', 'commit-graph', 'commit-graphs']);

/** What the workspace's git dir must look like. */
export interface WorkspaceGitExpectation {
  /** The registered repository's objects directory, borrowed through `alternates`. */
  readonly objectsDir: string;
  /** Full ref HEAD must point at, `refs/heads/loopwright/<ticket>`. */
  readonly headRef: string;
}

/**
 * Write the fixed parts of a freshly `git init`ed workspace git dir.
 *
 * @example
 * ```ts
 * const headRef = 'refs/heads/loopwright/T-1';
 * await initWorkspaceGit(path.join(ws, '.git'), { objectsDir, headRef });
 * ```
 */
export async function initWorkspaceGit(
  gitDir: string,
  expected: WorkspaceGitExpectation,
): Promise<void> {
  // Four small files: synchronous writes cost less than a thread-pool hop each.
  writeFileSync(path.join(gitDir, 'config'), WORKSPACE_CONFIG);
  writeFileSync(path.join(gitDir, 'HEAD'), `ref: ${expected.headRef}\n`);
  mkdirSync(path.join(gitDir, 'info'), { recursive: true });
  writeFileSync(path.join(gitDir, 'info', 'exclude'), WORKSPACE_EXCLUDE);
  mkdirSync(path.join(gitDir, 'objects', 'info'), { recursive: true });
  writeFileSync(path.join(gitDir, 'objects', 'info', 'alternates'), `${expected.objectsDir}\n`);
}

/**
 * Every way the workspace's git dir differs from what the orchestrator wrote (empty: intact).
 *
 * @example
 * ```ts
 * const problems = await workspaceGitProblems(ws, expected);
 * // ['.git/config was changed', 'hooks/ holds pre-commit']
 * ```
 */
export async function workspaceGitProblems(
  workspace: string,
  expected: WorkspaceGitExpectation,
): Promise<string[]> {
  const gitDir = path.join(workspace, '.git');
  const top = statOrNull(gitDir);
  if (!top) return ['.git is missing'];
  if (!top.isDirectory())
    return [`.git is ${top.isSymbolicLink() ? 'a symlink' : 'not a directory'}`];
  const problems: string[] = [];
  const same = (rel: string, content: string) => {
    const actual = readRegular(path.join(gitDir, rel));
    if (actual !== content)
      problems.push(`.git/${rel} ${actual === null ? 'is not a regular file' : 'was changed'}`);
  };
  same('config', WORKSPACE_CONFIG);
  same('HEAD', `ref: ${expected.headRef}\n`);
  same('info/exclude', WORKSPACE_EXCLUDE);
  same('objects/info/alternates', `${expected.objectsDir}\n`);
  for (const redirect of ['commondir', 'gitdir', 'config.worktree', 'shallow'])
    if (statOrNull(path.join(gitDir, redirect))) problems.push(`.git/${redirect} exists`);
  const extra = listing(path.join(gitDir, 'info')).filter((e) => e !== 'exclude');
  if (extra.length) problems.push(`.git/info holds ${extra.join(', ')}`);
  const hooks = listing(path.join(gitDir, 'hooks'));
  if (hooks.length) problems.push(`.git/hooks holds ${hooks.join(', ')}`);
  const objectInfo = listing(path.join(gitDir, 'objects', 'info')).filter(
    (e) => e !== 'alternates' && !OBJECT_INFO_EXTRA.has(e),
  );
  if (objectInfo.length) problems.push(`.git/objects/info holds ${objectInfo.join(', ')}`);
  for (const dir of ['info', 'hooks', 'objects', 'objects/info', 'refs']) {
    const info = statOrNull(path.join(gitDir, dir));
    if (info?.isSymbolicLink()) problems.push(`.git/${dir} is a symlink`);
  }
  return problems;
}

// Synchronous on purpose: a score of tiny reads per job, each cheaper than a thread-pool hop.
function readRegular(file: string): string | null {
  const info = statOrNull(file);
  if (!info?.isFile() || info.size > 64n * 1024n) return null;
  return readFileSync(file, 'utf8');
}

function listing(dir: string): string[] {
  try {
    return readdirSync(dir).sort();
  } catch {
    return [];
  }
}
