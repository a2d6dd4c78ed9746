/**
 * Facts about a repository that several workspace modules need: where its common git dir is, a
 * stable directory name for its worktrees, its registered worktrees, and the `.loopwright/`
 * exclude.
 */
import { createHash } from 'node:crypto';
import { appendFile, lstat, mkdir, readFile, readdir, realpath, stat } from 'node:fs/promises';
import path from 'node:path';
import { WorkspaceError } from './errors.js';
import { git, runGit } from './git.js';

/** The folder (relative to a worktree's top) where handovers and reports live; never committed. */
export const LOOPWRIGHT_DIR = '.loopwright';

/** The line added to `info/exclude`: anchored, directory-only. */
const EXCLUDE_LINE = `/${LOOPWRIGHT_DIR}/`;

/** One entry of `git worktree list --porcelain`. */
export interface WorktreeEntry {
  readonly path: string;
  readonly head: string | null;
  /** Full ref name (`refs/heads/main`), or null when detached or bare. */
  readonly branch: string | null;
  readonly bare: boolean;
  readonly locked: boolean;
  readonly prunable: boolean;
}

/**
 * The repository's common git dir (shared by all its worktrees), absolute and symlink-free.
 * Asked of git once per repository path and process: a repository's git dir does not move while
 * loopwright works on it (a found answer is kept while that directory exists).
 */
export async function commonGitDir(repoPath: string): Promise<string> {
  const key = path.resolve(repoPath);
  const known = COMMON_DIRS.get(key);
  if (known && (await stat(known).catch(() => null))?.isDirectory()) return known;
  const out = await runGit(repoPath, ['rev-parse', '--git-common-dir'], { okExitCodes: [0, 128] });
  if (out.exitCode !== 0)
    throw new WorkspaceError('NOT_A_REPOSITORY', `not a git repository: ${repoPath}`);
  const common = await realpath(path.resolve(repoPath, out.stdout.trim()));
  COMMON_DIRS.set(key, common);
  return common;
}

const COMMON_DIRS = new Map<string, string>();

/**
 * A directory name that identifies the repository: its name plus a short hash of its common git
 * dir,
 * so two clones called `api` never share a worktree folder.
 *
 * @example `repoDirName('/src/api')` -> `'api-1f3a9c2e'`
 */
export async function repoDirName(repoPath: string): Promise<string> {
  const common = await commonGitDir(repoPath);
  const base =
    path.basename(common) === '.git'
      ? path.basename(path.dirname(common))
      : path.basename(common).replace(/\.git$/, '');
  const safe = base.replace(/[^A-Za-z0-9._-]/g, '_').replace(/^\.+/, '') || 'repo';
  const hash = createHash('sha256').update(common).digest('hex').slice(0, 8);
  return `${safe}-${hash}`;
}

/**
 * Add `/.loopwright/` to the repository's `info/exclude` (in the common git dir, so every worktree
 * sees it) unless it is already there. Safe to call repeatedly and concurrently (a duplicate line
 * is
 * harmless).
 */
export async function ensureLoopwrightExcluded(repoPath: string): Promise<void> {
  const infoDir = path.join(await commonGitDir(repoPath), 'info');
  const file = path.join(infoDir, 'exclude');
  await mkdir(infoDir, { recursive: true });
  const current = await readFile(file, 'utf8').catch((error: NodeJS.ErrnoException) => {
    if (error.code === 'ENOENT') return '';
    throw error;
  });
  if (current.split('\n').some((line) => line.trim() === EXCLUDE_LINE)) return;
  const separator = current === '' || current.endsWith('\n') ? '' : '\n';
  await appendFile(file, `${separator}${EXCLUDE_LINE}\n`);
}

/** Every worktree git knows for the repository (the main checkout first). */
export async function listWorktrees(repoPath: string): Promise<WorktreeEntry[]> {
  const out = await git(repoPath, ['worktree', 'list', '--porcelain']);
  return out
    .split(/\n\n+/)
    .filter((block) => block.startsWith('worktree '))
    .map((block) => {
      const lines = block.split('\n');
      const value = (key: string) =>
        lines.find((line) => line === key || line.startsWith(`${key} `))?.slice(key.length + 1);
      const has = (key: string) => lines.some((line) => line === key || line.startsWith(`${key} `));
      return {
        path: value('worktree') ?? '',
        head: value('HEAD') ?? null,
        branch: value('branch') ?? null,
        bare: has('bare'),
        locked: has('locked'),
        prunable: has('prunable'),
      };
    });
}

/**
 * {@link listWorktrees}, asked of git again only when something that decides the list changed:
 * the common git dir's `HEAD` and `config`, its `worktrees/` entries (their `HEAD`, `gitdir` and
 * `locked` files), or a listed worktree's folder (gone: prunable). A few `lstat`s instead of a
 * git process per look-up. Each entry's `head` is as of the listing (a branch moving does not
 * change which worktree has it checked out).
 *
 * @example
 * ```ts
 * const holder = (await knownWorktrees(repoPath)).find((w) => w.branch === 'refs/heads/main');
 * ```
 */
export async function knownWorktrees(repoPath: string): Promise<WorktreeEntry[]> {
  const common = await commonGitDir(repoPath);
  const known = LISTINGS.get(common);
  if (known && (await worktreesStamp(common, known.entries)) === known.stamp) return known.entries;
  // Files stamped before git lists: a change while it lists is seen next time.
  const files = await gitDirStamp(common);
  const entries = await listWorktrees(repoPath);
  LISTINGS.set(common, { stamp: `${files}|${await foldersStamp(entries)}`, entries });
  return entries;
}

const LISTINGS = new Map<string, { stamp: string; entries: WorktreeEntry[] }>();

/** What {@link knownWorktrees} compares: the git dir's files, the listed folders. */
async function worktreesStamp(common: string, entries: readonly WorktreeEntry[]): Promise<string> {
  return `${await gitDirStamp(common)}|${await foldersStamp(entries)}`;
}

async function gitDirStamp(common: string): Promise<string> {
  const parts = [
    await fileStamp(path.join(common, 'HEAD')),
    await fileStamp(path.join(common, 'config')),
  ];
  const names = await readdir(path.join(common, 'worktrees')).catch(() => [] as string[]);
  for (const name of names.sort())
    for (const file of ['HEAD', 'gitdir', 'locked'])
      parts.push(`${name}/${file}=${await fileStamp(path.join(common, 'worktrees', name, file))}`);
  return parts.join('|');
}

/** Each listed worktree's folder: there (and which directory) or gone. */
async function foldersStamp(entries: readonly WorktreeEntry[]): Promise<string> {
  const parts: string[] = [];
  for (const e of entries) parts.push(`${e.path}=${await fileStamp(e.path, true)}`);
  return parts.join('|');
}

async function fileStamp(p: string, identityOnly = false): Promise<string> {
  const s = await lstat(p, { bigint: true }).catch(() => null);
  if (!s) return '-';
  return identityOnly ? `${s.dev}:${s.ino}` : `${s.ino}:${s.size}:${s.mtimeNs}:${s.ctimeNs}`;
}

/**
 * The repository's main checkout (the first entry of `git worktree list`), or null for a bare
 * repository; listed once per repository path and process, since it never moves.
 */
export async function mainCheckout(repoPath: string): Promise<string | null> {
  const key = path.resolve(repoPath);
  let known = MAIN_CHECKOUTS.get(key);
  if (known === undefined) {
    const main = (await listWorktrees(repoPath))[0];
    known = main && !main.bare ? main.path : null;
    MAIN_CHECKOUTS.set(key, known);
  }
  return known;
}

const MAIN_CHECKOUTS = new Map<string, string | null>();

/** The registered worktree at `dir` (compared after resolving symlinks), if any. */
export async function findWorktreeAt(
  repoPath: string,
  dir: string,
): Promise<WorktreeEntry | undefined> {
  const wanted = await canonical(dir);
  for (const entry of await listWorktrees(repoPath)) {
    if ((await canonical(entry.path)) === wanted) return entry;
  }
  return undefined;
}

/** `realpath` when the path exists, else the resolved path with its parent's symlinks resolved. */
export async function canonical(p: string): Promise<string> {
  const abs = path.resolve(p);
  try {
    return await realpath(abs);
  } catch {
    const parent = path.dirname(abs);
    return parent === abs ? abs : path.join(await canonical(parent), path.basename(abs));
  }
}
